// Command daprd is Dapr's own daprd with two additions:
//
//   - it discovers pluggable conversation components (dapr/dapr issue 8580), so
//     that a component of type conversation.<socket name> is served by the
//     process listening on that socket in $DAPR_COMPONENTS_SOCKETS_FOLDER;
//   - it registers the SQLite name resolver, which upstream builds only with
//     the allcomponents tag, so that a standalone daprd can resolve names
//     without mDNS multicast (see daprd/config/standalone.yaml);
//   - it registers the HTTP middleware middleware.http.conversationmetadata,
//     which copies ?metadata.<key>=<value> URL parameters into the body of a
//     conversation request, as Dapr's state API reads them (see
//     components/conversation-metadata.yaml).
package main

import (
	"github.com/dapr/components-contrib/nameresolution/sqlite"
	"github.com/dapr/dapr/cmd/daprd/app"
	"github.com/dapr/dapr/pkg/components/conversation"
	httpmiddleware "github.com/dapr/dapr/pkg/components/middleware/http"
	nameresolution "github.com/dapr/dapr/pkg/components/nameresolution"

	"github.com/pyllm/pyllm/daprd/internal/bridge"
	"github.com/pyllm/pyllm/daprd/internal/urlmetadata"
)

func main() {
	bridge.Register(conversation.DefaultRegistry)
	nameresolution.DefaultRegistry.RegisterComponent(sqlite.NewResolver, "sqlite")
	urlmetadata.Register(httpmiddleware.DefaultRegistry)
	app.Run()
}
