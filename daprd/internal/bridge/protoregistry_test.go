package bridge

import (
	"testing"

	daprcomponents "github.com/dapr/dapr/pkg/proto/components/v1"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	pb "github.com/pyllm/pyllm/daprd/internal/conversationpb"
)

// TestContractLinksWithDaprsProtos: our contract shares the package
// dapr.proto.components.v1 with Dapr's own pluggable component protos, which
// daprd links. protobuf-go panics at start on a duplicate name or file path;
// this test binary links both (it would not start otherwise) and checks both
// sets are registered side by side.
func TestContractLinksWithDaprsProtos(t *testing.T) {
	names := []protoreflect.FullName{
		// Dapr's: the names our messages would collide with without their prefix.
		protoreflect.FullName(string((&daprcomponents.PingRequest{}).ProtoReflect().Descriptor().FullName())),
		"dapr.proto.components.v1.MetadataRequest",
		"dapr.proto.components.v1.FeaturesRequest",
		"dapr.proto.components.v1.InitRequest",
		"dapr.proto.components.v1.StateStore",
		// Ours.
		(&pb.ConversationPingRequest{}).ProtoReflect().Descriptor().FullName(),
		"dapr.proto.components.v1.ConversationInitRequest",
		"dapr.proto.components.v1.ConversationFeaturesRequest",
		"dapr.proto.components.v1.Conversation",
	}
	for _, name := range names {
		if _, err := protoregistry.GlobalFiles.FindDescriptorByName(name); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for _, path := range []string{"dapr/proto/components/v1/common.proto", "pyllm/conversation/v1/conversation.proto"} {
		if _, err := protoregistry.GlobalFiles.FindFileByPath(path); err != nil {
			t.Errorf("%s: %v", path, err)
		}
	}
	if ServiceName != "dapr.proto.components.v1.Conversation" {
		t.Errorf("ServiceName = %q", ServiceName)
	}
}
