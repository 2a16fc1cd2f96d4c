package urlmetadata

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	contribmiddleware "github.com/dapr/components-contrib/middleware"
	httpmiddleware "github.com/dapr/dapr/pkg/components/middleware/http"
	"github.com/dapr/dapr/pkg/middleware"
	"github.com/dapr/kit/logger"
)

// TypeName is the component type suffix: a Component of type
// middleware.http.conversationmetadata, named in a Configuration's
// spec.httpPipeline.handlers, turns the middleware on.
const TypeName = "conversationmetadata"

// Register adds the middleware to registry (daprd's DefaultRegistry) as
// middleware.http.conversationmetadata. It must be called before daprd starts.
func Register(registry *httpmiddleware.Registry) {
	registry.RegisterComponent(func(logger.Logger) httpmiddleware.FactoryMethod {
		return New
	}, TypeName)
}

// New builds the middleware from its component metadata, which must be empty:
// it has no settings yet, and a setting it would silently ignore is a mistake
// worth reporting at daprd's start.
func New(meta contribmiddleware.Metadata) (middleware.HTTP, error) {
	if len(meta.Properties) > 0 {
		names := make([]string, 0, len(meta.Properties))
		for name := range meta.Properties {
			names = append(names, name)
		}
		slices.Sort(names)
		return nil, fmt.Errorf("middleware.http.%s takes no metadata, but got %s: remove them from the component", TypeName, strings.Join(names, ", "))
	}
	return func(next http.Handler) http.Handler {
		return Handler(next, DefaultMaxBody)
	}, nil
}
