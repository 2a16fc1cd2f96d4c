package bridge

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"testing"

	diagutils "github.com/dapr/dapr/pkg/diagnostics/utils"
	"go.opentelemetry.io/otel/trace"
)

func spanContext(t *testing.T) trace.SpanContext {
	t.Helper()
	traceID, err := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	if err != nil {
		t.Fatal(err)
	}
	spanID, err := trace.SpanIDFromHex("00f067aa0ba902b7")
	if err != nil {
		t.Fatal(err)
	}
	state, err := trace.ParseTraceState("vendor=value")
	if err != nil {
		t.Fatal(err)
	}
	return trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: traceID, SpanID: spanID, TraceFlags: trace.FlagsSampled, TraceState: state,
	})
}

func TestTraceContextReachesTheComponent(t *testing.T) {
	dir := t.TempDir()
	srv := startServer(t, filepath.Join(dir, "fake.sock"))
	comp := create(t, discover(t, dir), "conversation.fake", "c", nil)
	sc := spanContext(t)

	// daprd's HTTP API keeps its span under its own key; its gRPC API uses
	// OpenTelemetry's context.
	request := httptest.NewRequest("POST", "/v1.0-alpha2/conversation/c/converse", nil)
	diagutils.AddSpanToRequest(request, trace.SpanFromContext(trace.ContextWithSpanContext(context.Background(), sc)))
	contexts := map[string]context.Context{
		"http":    request.Context(),
		"grpc":    trace.ContextWithSpanContext(context.Background(), sc),
		"no span": context.Background(),
	}
	for name, ctx := range contexts {
		t.Run(name, func(t *testing.T) {
			if _, err := comp.Converse(ctx, hello("x")); err != nil {
				t.Fatal(err)
			}
			srv.fake.mu.Lock()
			defer srv.fake.mu.Unlock()
			wantParent, wantState := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "vendor=value"
			if name == "no span" {
				wantParent, wantState = "", ""
			}
			if got := srv.fake.trace["traceparent"]; got != wantParent {
				t.Errorf("traceparent = %q, want %q", got, wantParent)
			}
			if got := srv.fake.trace["tracestate"]; got != wantState {
				t.Errorf("tracestate = %q, want %q", got, wantState)
			}
		})
	}
}
