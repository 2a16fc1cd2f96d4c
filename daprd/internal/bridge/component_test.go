package bridge

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dapr/components-contrib/conversation"
	contribmeta "github.com/dapr/components-contrib/metadata"
	convregistry "github.com/dapr/dapr/pkg/components/conversation"
	"github.com/dapr/dapr/pkg/components/pluggable"
	"github.com/tmc/langchaingo/llms"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"

	pb "github.com/pyllm/pyllm/daprd/internal/conversationpb"
)

// fakeComponent is a conversation component in Go that behaves as pyllm's
// does where the bridge cares: instances named by x-component-instance, each
// initialised by its own Init, and FAILED_PRECONDITION for an unknown one.
// Request metadata drives it: "fail" answers INVALID_ARGUMENT, "block" waits
// for the call's context to end.
type fakeComponent struct {
	pb.UnimplementedConversationServer

	mu        sync.Mutex
	instances map[string]map[string]string
	inits     []string          // instance names, in Init order
	deadlines map[string]bool   // per method: did the last call carry a deadline
	trace     map[string]string // the last Converse's traceparent and tracestate
	blocked   chan struct{}     // a call started blocking
	ended     chan error        // the context error of each blocked call
}

func newFakeComponent() *fakeComponent {
	return &fakeComponent{
		instances: map[string]map[string]string{},
		deadlines: map[string]bool{},
		blocked:   make(chan struct{}, 16),
		ended:     make(chan error, 16),
	}
}

func instanceOf(ctx context.Context) (string, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	names := md.Get("x-component-instance")
	if len(names) != 1 {
		return "", status.Errorf(codes.InvalidArgument, "want one x-component-instance header, got %q", names)
	}
	return names[0], nil
}

func (f *fakeComponent) Init(ctx context.Context, req *pb.ConversationInitRequest) (*pb.ConversationInitResponse, error) {
	name, err := instanceOf(ctx)
	if err != nil {
		return nil, err
	}
	if bad, ok := req.GetProperties()["bad"]; ok {
		return nil, status.Errorf(codes.InvalidArgument, "metadata field 'bad': %s is not accepted", bad)
	}
	_, hasDeadline := ctx.Deadline()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.instances[name] = req.GetProperties()
	f.inits = append(f.inits, name)
	f.deadlines["Init"] = hasDeadline
	return &pb.ConversationInitResponse{}, nil
}

func (f *fakeComponent) Converse(ctx context.Context, req *pb.ConversationConverseRequest) (*pb.ConversationConverseResponse, error) {
	name, err := instanceOf(ctx)
	if err != nil {
		return nil, err
	}
	_, hasDeadline := ctx.Deadline()
	md, _ := metadata.FromIncomingContext(ctx)
	f.mu.Lock()
	props, known := f.instances[name]
	f.deadlines["Converse"] = hasDeadline
	f.trace = map[string]string{}
	for _, key := range []string{"traceparent", "tracestate"} {
		if values := md.Get(key); len(values) > 0 {
			f.trace[key] = values[0]
		}
	}
	f.mu.Unlock()
	if !known {
		return nil, status.Errorf(codes.FailedPrecondition,
			"component instance %q is not initialised: call Init for it first", name)
	}
	if msg, ok := req.GetMetadata()["fail"]; ok {
		return nil, status.Error(codes.InvalidArgument, msg)
	}
	if _, ok := req.GetMetadata()["block"]; ok {
		f.blocked <- struct{}{}
		<-ctx.Done()
		f.ended <- ctx.Err()
		return nil, status.FromContextError(ctx.Err()).Err()
	}
	var texts []string
	for _, m := range req.GetMessages().GetItems() {
		for _, p := range m.GetParts() {
			texts = append(texts, p.GetText().GetText())
		}
	}
	return &pb.ConversationConverseResponse{
		Model:     props["model"],
		ContextId: req.GetContextId(),
		Outputs: []*pb.ConversationOutput{{
			StopReason: "stop",
			Choices: []*pb.ConversationChoice{{
				FinishReason: "stop",
				Message:      &pb.ConversationResultMessage{Content: name + ": " + strings.Join(texts, " ")},
			}},
		}},
	}, nil
}

func (f *fakeComponent) initCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.inits)
}

// server serves a fakeComponent on a Unix socket, with reflection as
// pluggable discovery needs.
type server struct {
	fake   *fakeComponent
	grpc   *grpc.Server
	socket string
	done   chan struct{}
}

func startServer(t *testing.T, socket string) *server {
	t.Helper()
	lis, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	s := &server{fake: newFakeComponent(), grpc: grpc.NewServer(), socket: socket, done: make(chan struct{})}
	pb.RegisterConversationServer(s.grpc, s.fake)
	reflection.Register(s.grpc)
	go func() {
		defer close(s.done)
		_ = s.grpc.Serve(lis)
	}()
	t.Cleanup(s.stop)
	return s
}

// stop ends the server as a killed process would: connections drop and the
// socket file goes away (Go's listener removes it on close).
func (s *server) stop() {
	s.grpc.Stop()
	<-s.done
}

// discover runs daprd's own pluggable discovery over dir and returns the
// registry our callback filled.
func discover(t *testing.T, dir string) *convregistry.Registry {
	t.Helper()
	t.Setenv(pluggable.SocketFolderEnvVar, dir)
	registry := convregistry.NewRegistry()
	Register(registry)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := pluggable.Discover(ctx); err != nil {
		t.Fatal(err)
	}
	return registry
}

func create(t *testing.T, registry *convregistry.Registry, typ, name string, props map[string]string) conversation.Conversation {
	t.Helper()
	comp, err := registry.Create(typ, "v1", name)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	meta := conversation.Metadata{Base: contribmeta.Base{Name: name, Properties: props}}
	if err := comp.Init(ctx, meta); err != nil {
		t.Fatalf("Init: %v", err)
	}
	t.Cleanup(func() { _ = comp.Close() })
	return comp
}

func hello(words ...string) *conversation.Request {
	parts := make([]llms.ContentPart, 0, len(words))
	for _, w := range words {
		parts = append(parts, llms.TextContent{Text: w})
	}
	return &conversation.Request{
		Message:             &[]llms.MessageContent{{Role: llms.ChatMessageTypeHuman, Parts: parts}},
		ConversationContext: "ctx-9",
	}
}

func converse(t *testing.T, comp conversation.Conversation, req *conversation.Request) *conversation.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := comp.Converse(ctx, req)
	if err != nil {
		t.Fatalf("Converse: %v", err)
	}
	return resp
}

func content(resp *conversation.Response) string {
	return resp.Outputs[0].Choices[0].Message.Content
}

func TestDiscoveredComponentConverses(t *testing.T) {
	dir := t.TempDir()
	srv := startServer(t, filepath.Join(dir, "fake.sock"))
	registry := discover(t, dir)

	// Two components of the same type share the socket, each with its settings.
	first := create(t, registry, "conversation.fake", "first", map[string]string{"model": "m1"})
	second := create(t, registry, "conversation.fake", "second", map[string]string{"model": "m2"})

	resp := converse(t, first, hello("hello", "there"))
	if got, want := content(resp), "first: hello there"; got != want {
		t.Errorf("content = %q, want %q", got, want)
	}
	if resp.Model != "m1" || resp.ConversationContext != "ctx-9" {
		t.Errorf("model, context = %q, %q; want m1, ctx-9", resp.Model, resp.ConversationContext)
	}
	if got := converse(t, second, hello("hi")); content(got) != "second: hi" || got.Model != "m2" {
		t.Errorf("second instance answered %q with model %q", content(got), got.Model)
	}

	srv.fake.mu.Lock()
	defer srv.fake.mu.Unlock()
	if diff := strings.Join(srv.fake.inits, ","); diff != "first,second" {
		t.Errorf("inits = %s, want first,second", diff)
	}
	if !srv.fake.deadlines["Init"] {
		t.Error("Init's context deadline did not reach the component")
	}
}

func TestDiscoveryIgnoresOtherServices(t *testing.T) {
	dir := t.TempDir()
	startServer(t, filepath.Join(dir, "fake.sock"))
	registry := discover(t, dir)
	if _, err := registry.Create("conversation.other", "v1", ""); err == nil {
		t.Error("a type with no socket was created")
	}
}

func TestInitErrorCarriesTheComponentsMessage(t *testing.T) {
	dir := t.TempDir()
	startServer(t, filepath.Join(dir, "fake.sock"))
	registry := discover(t, dir)
	comp, err := registry.Create("conversation.fake", "v1", "c")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = comp.Init(ctx, conversation.Metadata{Base: contribmeta.Base{
		Name: "c", Properties: map[string]string{"bad": "x"},
	}})
	if got, want := errString(err), "InvalidArgument: metadata field 'bad': x is not accepted"; got != want {
		t.Errorf("Init error = %q, want %q", got, want)
	}
	if err := comp.Close(); err != nil {
		t.Errorf("Close after a failed Init: %v", err)
	}
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

func TestConverseErrorCarriesTheComponentsMessage(t *testing.T) {
	dir := t.TempDir()
	startServer(t, filepath.Join(dir, "fake.sock"))
	comp := create(t, discover(t, dir), "conversation.fake", "c", nil)

	req := hello("x")
	req.Metadata = map[string]string{"fail": "tools[0] has no function: a tool needs one"}
	_, err := comp.Converse(context.Background(), req)
	if got, want := errString(err), "InvalidArgument: tools[0] has no function: a tool needs one"; got != want {
		t.Errorf("error = %q, want %q", got, want)
	}
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("status.Code = %v, want InvalidArgument", status.Code(err))
	}

	// A request the contract cannot carry fails before any call, by name.
	req = &conversation.Request{Message: &[]llms.MessageContent{
		{Role: llms.ChatMessageTypeHuman, Parts: []llms.ContentPart{llms.ImageURLContent{URL: "u"}}},
	}}
	if _, err := comp.Converse(context.Background(), req); err == nil ||
		!strings.Contains(err.Error(), "llms.ImageURLContent") {
		t.Errorf("error = %v, want one naming llms.ImageURLContent", err)
	}
}

func TestConverseContextReachesTheComponent(t *testing.T) {
	dir := t.TempDir()
	srv := startServer(t, filepath.Join(dir, "fake.sock"))
	comp := create(t, discover(t, dir), "conversation.fake", "c", nil)
	req := hello("x")
	req.Metadata = map[string]string{"block": ""}

	t.Run("deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		_, err := comp.Converse(ctx, req)
		// Not errors.Is(err, context.DeadlineExceeded): the component's copy
		// of the deadline may end the call an instant before ours does.
		if status.Code(err) != codes.DeadlineExceeded || !strings.HasPrefix(err.Error(), "DeadlineExceeded: ") {
			t.Errorf("error = %v, want DeadlineExceeded", err)
		}
		// The component's context ends by its own copy of the deadline or by
		// the client's cancellation when it gave up, whichever comes first.
		waitSignal(t, srv.fake.blocked)
		if ended := waitEnded(t, srv.fake); ended == nil {
			t.Error("the component's call did not end with its context")
		}
		srv.fake.mu.Lock()
		defer srv.fake.mu.Unlock()
		if !srv.fake.deadlines["Converse"] {
			t.Error("the call's deadline did not reach the component")
		}
	})
	t.Run("cancellation", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			// Cancel once the call is in the component.
			<-srv.fake.blocked
			cancel()
		}()
		_, err := comp.Converse(ctx, req)
		if !errors.Is(err, context.Canceled) || status.Code(err) != codes.Canceled {
			t.Errorf("error = %v, want a Canceled that errors.Is context.Canceled", err)
		}
		if ended := waitEnded(t, srv.fake); !errors.Is(ended, context.Canceled) {
			t.Errorf("the component's call ended with %v, want cancellation", ended)
		}
	})
}

func waitSignal(t *testing.T, signal <-chan struct{}) {
	t.Helper()
	select {
	case <-signal:
	case <-time.After(10 * time.Second):
		t.Fatal("the call did not reach the component")
	}
}

func waitEnded(t *testing.T, fake *fakeComponent) error {
	t.Helper()
	select {
	case err := <-fake.ended:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("the component's call did not end")
		return nil
	}
}

func TestReinitAfterTheComponentRestarts(t *testing.T) {
	dir := t.TempDir()
	socket := filepath.Join(dir, "fake.sock")
	old := startServer(t, socket)
	comp := create(t, discover(t, dir), "conversation.fake", "c", map[string]string{"model": "kept"})
	converse(t, comp, hello("before"))

	old.stop()
	waitDisconnected(t, comp)
	restarted := startServer(t, socket)

	resp := converse(t, comp, hello("after"))
	if content(resp) != "c: after" || resp.Model != "kept" {
		t.Errorf("answer after restart = %q with model %q", content(resp), resp.Model)
	}
	restarted.fake.mu.Lock()
	defer restarted.fake.mu.Unlock()
	if got := strings.Join(restarted.fake.inits, ","); got != "c" {
		t.Errorf("inits after restart = %q, want one for c", got)
	}
	if got := restarted.fake.instances["c"]["model"]; got != "kept" {
		t.Errorf("re-Init carried model %q, want the kept metadata", got)
	}
}

// waitDisconnected waits until the component's connection has seen the
// server go. A call made in the instant between the server's end and the
// client noticing it is sent on the dead connection and fails with
// Unavailable, like a call in flight when the component dies; the tests of
// restarts are about the calls after it.
func waitDisconnected(t *testing.T, comp conversation.Conversation) {
	t.Helper()
	conn := comp.(*Component).conn
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for state := conn.GetState(); state == connectivity.Ready; state = conn.GetState() {
		if !conn.WaitForStateChange(ctx, state) {
			t.Fatal("the connection still looks ready after the server stopped")
		}
	}
}

func TestConcurrentCallsReinitOnce(t *testing.T) {
	dir := t.TempDir()
	socket := filepath.Join(dir, "fake.sock")
	old := startServer(t, socket)
	comp := create(t, discover(t, dir), "conversation.fake", "c", nil)
	converse(t, comp, hello("before"))

	old.stop()
	waitDisconnected(t, comp)
	restarted := startServer(t, socket)

	const calls = 20
	var wg sync.WaitGroup
	errs := make(chan error, calls)
	for range calls {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err := comp.Converse(ctx, hello("x"))
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("call failed: %v", err)
		}
	}
	if n := restarted.fake.initCount(); n != 1 {
		t.Errorf("%d re-Inits for %d concurrent calls, want 1", n, calls)
	}
}

// TestReconnectsAfterALongOutage checks that the connection does not stay
// failed: calls made while the socket is gone fail with Unavailable, and once
// the component is back the very next call reaches it, instead of failing
// with the last attempt's error until gRPC's backoff (up to two minutes by
// default) lets it try again.
func TestReconnectsAfterALongOutage(t *testing.T) {
	dir := t.TempDir()
	socket := filepath.Join(dir, "fake.sock")
	old := startServer(t, socket)
	comp := create(t, discover(t, dir), "conversation.fake", "c", nil)
	converse(t, comp, hello("before"))
	old.stop()

	// Fail a number of calls, as daprd's retries would, so that the backoff
	// has grown well past its first steps.
	for range 8 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := comp.Converse(ctx, hello("down"))
		cancel()
		if code := status.Code(err); code != codes.Unavailable {
			t.Fatalf("call while down: %v (code %v), want Unavailable", err, code)
		}
		time.Sleep(150 * time.Millisecond)
	}

	// The first call after the component is back reaches it.
	startServer(t, socket)
	if got := content(converse(t, comp, hello("back"))); got != "c: back" {
		t.Errorf("answer = %q", got)
	}
}

func TestCloseEndsTheConnection(t *testing.T) {
	dir := t.TempDir()
	startServer(t, filepath.Join(dir, "fake.sock"))
	comp := create(t, discover(t, dir), "conversation.fake", "c", nil)
	if err := comp.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := comp.Converse(context.Background(), hello("x")); status.Code(err) != codes.Canceled {
		t.Errorf("Converse after Close: %v, want Canceled (connection closing)", err)
	}
}

func TestUninitialisedComponent(t *testing.T) {
	comp := New(nil, nil)
	if _, err := comp.Converse(context.Background(), hello("x")); err == nil {
		t.Error("Converse before Init did not fail")
	}
	if err := comp.Close(); err != nil {
		t.Errorf("Close before Init: %v", err)
	}
	if comp.GetComponentMetadata() == nil {
		t.Error("GetComponentMetadata returned nil")
	}
}
