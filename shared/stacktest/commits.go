package stacktest

import (
	"context"
	"sync"

	"cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/grpc"
)

// CommitRecorder keeps the writes of every Commit a Firestore client makes
// that succeeds, in order (a transaction's attempts that fail write
// nothing): what a test counts the stack's writes by. Give its Intercept
// to WithFirestoreDialOptions, with grpc.WithChainUnaryInterceptor.
type CommitRecorder struct {
	mu     sync.Mutex
	writes []*firestorepb.Write
}

// Intercept is a gRPC unary client interceptor.
func (c *CommitRecorder) Intercept(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	err := invoker(ctx, method, req, reply, cc, opts...)
	if commit, ok := req.(*firestorepb.CommitRequest); ok && err == nil {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.writes = append(c.writes, commit.GetWrites()...)
	}
	return err
}

// Take returns the writes recorded since the last Take.
func (c *CommitRecorder) Take() []*firestorepb.Write {
	c.mu.Lock()
	defer c.mu.Unlock()
	writes := c.writes
	c.writes = nil
	return writes
}
