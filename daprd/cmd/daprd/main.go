// Command daprd is Dapr's own daprd with one addition: it discovers pluggable
// conversation components (dapr/dapr issue 8580), so that a component of type
// conversation.<socket name> is served by the process listening on that
// socket in $DAPR_COMPONENTS_SOCKETS_FOLDER.
package main

import (
	"github.com/dapr/dapr/cmd/daprd/app"
	"github.com/dapr/dapr/pkg/components/conversation"

	"github.com/pyllm/pyllm/daprd/internal/bridge"
)

func main() {
	bridge.Register(conversation.DefaultRegistry)
	app.Run()
}
