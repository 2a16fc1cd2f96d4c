// Package bridge makes a pluggable conversation component (a process serving
// pyllm's contract, dapr.proto.components.v1.Conversation, on a Unix socket)
// a components-contrib conversation.Conversation that daprd can load.
//
// Upstream daprd discovers pluggable state stores, pub/sub, bindings and
// secret stores, but not conversation (dapr/dapr issue 8580): Register adds
// the missing discovery callback, and Component is the client each
// discovered socket's components are made of.
package bridge

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dapr/components-contrib/conversation"
	"github.com/dapr/components-contrib/metadata"
	"github.com/dapr/dapr/pkg/components/pluggable"
	"github.com/dapr/kit/logger"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/status"

	pb "github.com/pyllm/pyllm/daprd/internal/conversationpb"
)

// connectParams keep reconnection quick. gRPC reconnects by itself after the
// component restarts, but its default backoff grows to two minutes while the
// socket is missing, and calls fail for as long as it waits. A Unix socket
// costs nothing to retry, so the wait is capped at a second.
var connectParams = grpc.ConnectParams{
	Backoff: backoff.Config{
		BaseDelay:  100 * time.Millisecond,
		Multiplier: 1.6,
		Jitter:     0.2,
		MaxDelay:   time.Second,
	},
	MinConnectTimeout: 5 * time.Second,
}

// reconnectWait bounds the wait for a fresh connection attempt when a call
// finds the connection failed: a local socket answers in milliseconds.
const reconnectWait = 250 * time.Millisecond

// Component is one daprd component (one metadata.name) of a pluggable
// conversation type, talking to the component process over its socket.
type Component struct {
	dialer pluggable.GRPCConnectionDialer
	logger logger.Logger

	// Set by Init, read-only afterwards.
	name       string
	properties map[string]string
	conn       *grpc.ClientConn
	client     pb.ConversationClient

	// initMu serialises re-Inits; inits counts the successful ones, so that
	// calls that all found the component restarted initialise it only once.
	initMu sync.Mutex
	inits  atomic.Uint64
}

var _ conversation.Conversation = (*Component)(nil)

// New returns a component that dials the component process with dialer, the
// one pluggable discovery hands over (it names the instance on every call
// with the x-component-instance header).
func New(dialer pluggable.GRPCConnectionDialer, log logger.Logger) *Component {
	return &Component{dialer: dialer, logger: log}
}

// Init connects to the component process and initialises this instance with
// the component's metadata, within ctx (daprd's init timeout). The metadata
// is kept: daprd calls Init only once, so Converse uses it to initialise the
// instance again when the component process has restarted.
func (c *Component) Init(ctx context.Context, meta conversation.Metadata) error {
	conn, err := c.dialer(ctx, meta.Name, grpc.WithConnectParams(connectParams))
	if err != nil {
		return fmt.Errorf("connecting to the conversation component: %w", err)
	}
	c.name = meta.Name
	c.properties = maps.Clone(meta.Properties)
	c.conn = conn
	c.client = pb.NewConversationClient(conn)
	if err := c.initRemote(ctx); err != nil {
		// daprd does not Close a component whose Init failed.
		_ = conn.Close()
		c.conn, c.client = nil, nil
		return err
	}
	c.inits.Add(1)
	return nil
}

func (c *Component) initRemote(ctx context.Context) error {
	_, err := c.client.Init(ctx, &pb.ConversationInitRequest{Properties: c.properties})
	return callError(ctx, err)
}

// GetComponentMetadata describes no fields: the settings belong to the
// component process, which validates them in Init.
func (c *Component) GetComponentMetadata() metadata.MetadataMap {
	return metadata.MetadataMap{}
}

// Converse sends the request to the component within ctx, so that daprd's
// deadlines and cancellation reach it, with daprd's trace context. When the component answers
// FAILED_PRECONDITION (it does not know this instance: it restarted since
// Init), the instance is initialised again with the kept metadata and the call
// is made once more.
func (c *Component) Converse(ctx context.Context, req *conversation.Request) (*conversation.Response, error) {
	if c.client == nil {
		return nil, errors.New("the conversation component was not initialised: daprd calls Init first")
	}
	in, err := RequestToProto(req)
	if err != nil {
		return nil, err
	}
	ctx = withTraceContext(ctx)
	c.awaitReconnect(ctx)
	inits := c.inits.Load()
	resp, err := c.client.Converse(ctx, in)
	if status.Code(err) == codes.FailedPrecondition {
		if err := c.reinit(ctx, inits); err != nil {
			return nil, err
		}
		resp, err = c.client.Converse(ctx, in)
	}
	if err != nil {
		return nil, callError(ctx, err)
	}
	return ResponseFromProto(resp)
}

// awaitReconnect gives a failed connection one immediate attempt before a
// call. Once a connection has failed, gRPC fails every call at once with the
// last attempt's error until its next attempt succeeds, so the first calls
// after the component comes back would fail although its socket answers.
// Nothing has been sent yet, so this costs the call nothing but, while the
// component is down, up to reconnectWait.
func (c *Component) awaitReconnect(ctx context.Context) {
	if c.conn.GetState() != connectivity.TransientFailure {
		return
	}
	c.conn.ResetConnectBackoff()
	ctx, cancel := context.WithTimeout(ctx, reconnectWait)
	defer cancel()
	for state := c.conn.GetState(); state != connectivity.Ready; state = c.conn.GetState() {
		if !c.conn.WaitForStateChange(ctx, state) {
			return
		}
	}
}

// reinit initialises the instance again, unless another call already did so
// since this one read inits.
func (c *Component) reinit(ctx context.Context, inits uint64) error {
	c.initMu.Lock()
	defer c.initMu.Unlock()
	if c.inits.Load() != inits {
		return nil
	}
	c.logger.Infof("conversation component %q does not know this instance (it restarted?): "+
		"initialising it again with the metadata daprd gave", c.name)
	if err := c.initRemote(ctx); err != nil {
		return fmt.Errorf("initialising the component again after it restarted: %w", err)
	}
	c.inits.Add(1)
	return nil
}

// Close closes the connection; calls still running end with an error.
func (c *Component) Close() error {
	if c.conn == nil {
		return nil
	}
	return c.conn.Close()
}
