package bridge

import (
	"github.com/dapr/components-contrib/conversation"
	convregistry "github.com/dapr/dapr/pkg/components/conversation"
	"github.com/dapr/dapr/pkg/components/pluggable"
	"github.com/dapr/kit/logger"

	pb "github.com/pyllm/pyllm/daprd/internal/conversationpb"
)

// ServiceName is the gRPC service pluggable discovery looks for in each
// socket: pyllm's conversation contract.
var ServiceName = pb.Conversation_ServiceDesc.ServiceName

// Register makes daprd's pluggable discovery add, to registry, a conversation
// component type for every socket in the sockets folder that serves the
// contract: a socket named pyllm.sock gives the type conversation.pyllm. It
// must be called before daprd starts, as discovery runs at its start.
func Register(registry *convregistry.Registry) {
	pluggable.AddServiceDiscoveryCallback(ServiceName, func(name string, dialer pluggable.GRPCConnectionDialer) {
		registry.RegisterComponent(func(log logger.Logger) conversation.Conversation {
			return New(dialer, log)
		}, name)
	})
}
