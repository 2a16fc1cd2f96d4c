package bridge

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// CallError is a failed call to the component. Its text is the gRPC code's
// name and the component's own message ("InvalidArgument: tools[0] has no
// function: ..."), which daprd puts into its documented error ("failed
// conversing with component <name>: ..."), so the caller reads our message.
type CallError struct {
	status *status.Status
	// cause is the call's context error when the context ended the call, so
	// that errors.Is(err, context.DeadlineExceeded) holds for daprd's
	// resiliency timeouts.
	cause error
}

func (e *CallError) Error() string {
	return e.status.Code().String() + ": " + e.status.Message()
}

// Code is the gRPC status code the component (or gRPC) answered with.
func (e *CallError) Code() codes.Code { return e.status.Code() }

// GRPCStatus lets status.FromError and status.Code see the original status.
func (e *CallError) GRPCStatus() *status.Status { return e.status }

// Unwrap returns the call's context error, if the context ended the call.
func (e *CallError) Unwrap() error { return e.cause }

// callError wraps an error returned by a gRPC call made with ctx.
func callError(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	s, ok := status.FromError(err)
	if !ok {
		return err
	}
	out := &CallError{status: s}
	if ctxErr := ctx.Err(); ctxErr != nil &&
		(s.Code() == codes.DeadlineExceeded || s.Code() == codes.Canceled) {
		out.cause = ctxErr
	}
	return out
}

// isCode reports whether err is a call error with the given code.
func isCode(err error, code codes.Code) bool {
	var callErr *CallError
	return errors.As(err, &callErr) && callErr.Code() == code
}
