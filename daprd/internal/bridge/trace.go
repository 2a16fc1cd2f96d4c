package bridge

import (
	"context"

	diagutils "github.com/dapr/dapr/pkg/diagnostics/utils"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/metadata"
)

// withTraceContext adds daprd's span for this call to the outgoing gRPC
// metadata as W3C traceparent (and tracestate), so that the component's spans
// and its upstream call join the caller's trace. daprd does not do it for
// component calls itself, and keeps the HTTP API's span under its own context
// key, which dapr's helper reads (falling back to OpenTelemetry's).
func withTraceContext(ctx context.Context) context.Context {
	sc := diagutils.SpanFromContext(ctx).SpanContext()
	if !sc.IsValid() {
		return ctx
	}
	carrier := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(trace.ContextWithSpanContext(ctx, sc), carrier)
	pairs := make([]string, 0, 2*len(carrier))
	for key, value := range carrier {
		pairs = append(pairs, key, value)
	}
	return metadata.AppendToOutgoingContext(ctx, pairs...)
}
