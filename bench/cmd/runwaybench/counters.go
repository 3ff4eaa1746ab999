package main

import (
	"context"
	"maps"
	"path"
	"sort"
	"strings"
	"sync"

	"cloud.google.com/go/firestore/apiv1/firestorepb"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc"
)

// rpcCounter counts, from gRPC client interceptors, the RPCs a client
// makes, the documents Firestore sends back (what a query or a batch get
// reads, as Firestore bills it) and the writes committed. Both the
// measured path and the floor go through the same counted clients, so the
// counts of a window tell what each variant does per operation.
type rpcCounter struct {
	mu        sync.Mutex
	calls     map[string]int64
	docs      map[string]int64 // documents read, by RPC
	writes    int64
	published int64
}

func newRPCCounter() *rpcCounter {
	return &rpcCounter{calls: map[string]int64{}, docs: map[string]int64{}}
}

// counts is a snapshot of a counter.
type counts struct {
	Calls     map[string]int64
	Docs      map[string]int64 // documents read, by RPC
	DocsRead  int64
	Writes    int64
	Published int64
}

func (c *rpcCounter) snapshot() counts {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := counts{Calls: maps.Clone(c.calls), Docs: maps.Clone(c.docs), Writes: c.writes, Published: c.published}
	for _, n := range c.docs {
		out.DocsRead += n
	}
	return out
}

// minus returns what happened between before and c.
func (c counts) minus(before counts) counts {
	out := counts{Calls: map[string]int64{}, Docs: map[string]int64{}, DocsRead: c.DocsRead - before.DocsRead,
		Writes: c.Writes - before.Writes, Published: c.Published - before.Published}
	for k, v := range c.Calls {
		if d := v - before.Calls[k]; d != 0 {
			out.Calls[k] = d
		}
	}
	for k, v := range c.Docs {
		if d := v - before.Docs[k]; d != 0 {
			out.Docs[k] = d
		}
	}
	return out
}

func (c counts) plus(o counts) counts {
	out := counts{Calls: map[string]int64{}, Docs: map[string]int64{}, DocsRead: c.DocsRead + o.DocsRead, Writes: c.Writes + o.Writes,
		Published: c.Published + o.Published}
	for _, m := range []counts{c, o} {
		for k, v := range m.Calls {
			out.Calls[k] += v
		}
		for k, v := range m.Docs {
			out.Docs[k] += v
		}
	}
	return out
}

func (c counts) totalCalls() int64 {
	var n int64
	for _, v := range c.Calls {
		n += v
	}
	return n
}

// perOp describes the calls divided by n operations, e.g.
// "3.00 (BatchGetDocuments 1.00, Commit 2.00)".
func (c counts) perOp(n int) string { return breakdown(c.Calls, n) }

// docsPerOp describes the documents read divided by n operations, e.g.
// "11.00 (BatchGetDocuments 1.00, RunQuery 10.00)".
func (c counts) docsPerOp(n int) string { return breakdown(c.Docs, n) }

func breakdown(m map[string]int64, n int) string {
	if n == 0 {
		return "n/a"
	}
	names := make([]string, 0, len(m))
	var total int64
	for k, v := range m {
		names = append(names, k)
		total += v
	}
	if len(names) == 0 {
		return "0"
	}
	sort.Strings(names)
	parts := make([]string, 0, len(names))
	for _, k := range names {
		parts = append(parts, k+" "+fmtFloat(float64(m[k])/float64(n)))
	}
	return fmtFloat(float64(total)/float64(n)) + " (" + strings.Join(parts, ", ") + ")"
}

func (c *rpcCounter) add(method string, docs, writes, published int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	name := path.Base(method)
	if docs == 0 {
		c.calls[name]++
	} else {
		c.docs[name] += docs
	}
	c.writes += writes
	c.published += published
}

func (c *rpcCounter) unary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	var writes, published int64
	switch r := req.(type) {
	case *firestorepb.CommitRequest:
		writes = int64(len(r.GetWrites()))
	case *pubsubpb.PublishRequest:
		published = int64(len(r.GetMessages()))
	}
	c.add(method, 0, writes, published)
	return invoker(ctx, method, req, reply, cc, opts...)
}

func (c *rpcCounter) stream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	c.add(method, 0, 0, 0)
	s, err := streamer(ctx, desc, cc, method, opts...)
	if err != nil {
		return nil, err
	}
	return &countingStream{ClientStream: s, c: c, method: method}, nil
}

// countingStream counts the documents of Firestore's streamed answers.
type countingStream struct {
	grpc.ClientStream
	c      *rpcCounter
	method string
}

func (s *countingStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if err != nil {
		return err
	}
	switch r := m.(type) {
	case *firestorepb.BatchGetDocumentsResponse:
		if r.GetFound() != nil {
			s.c.add(s.method, 1, 0, 0)
		}
	case *firestorepb.RunQueryResponse:
		if r.GetDocument() != nil {
			s.c.add(s.method, 1, 0, 0)
		}
	}
	return nil
}

func (c *rpcCounter) dialOptions() []grpc.DialOption {
	return []grpc.DialOption{grpc.WithChainUnaryInterceptor(c.unary), grpc.WithChainStreamInterceptor(c.stream)}
}
