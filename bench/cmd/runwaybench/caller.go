package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// caller is the load generator's HTTP/1.1 client: it writes each request
// on a kept-alive connection of its own and reads the answer with
// net/http's parser, as wrk or hey would.
//
// It is not net/http's Client because the callers share this process's
// CPUs with the API they load. net/http's Transport hands every request
// to two goroutines of the connection (its read and write loops) and back,
// which cost the callers about 35 to 60 µs of CPU per launch under the
// throughput load (the profile of section 3, before this client). In a
// deployment the callers run elsewhere; here, what they spend is taken
// from the API, and from the http+floor variant as much as from Runway's.
type caller struct {
	timeout time.Duration
	mu      sync.Mutex
	idle    map[string][]*callerConn // by host:port
}

type callerConn struct {
	net.Conn
	r *bufio.Reader
}

// newCaller returns a caller whose requests time out after timeout.
func newCaller(timeout time.Duration) *caller {
	return &caller{timeout: timeout, idle: map[string][]*callerConn{}}
}

// post sends a JSON body with a bearer token to rawURL and returns the
// status and the body of the answer.
func (c *caller) post(ctx context.Context, rawURL, token string, body []byte) (int, []byte, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return 0, nil, err
	}
	if u.Scheme != "http" {
		return 0, nil, fmt.Errorf("caller: %s: only http:// URLs", rawURL)
	}
	conn, err := c.conn(ctx, u.Host)
	if err != nil {
		return 0, nil, err
	}
	deadline := time.Now().Add(c.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := conn.SetDeadline(deadline); err != nil {
		conn.Close()
		return 0, nil, err
	}
	req := make([]byte, 0, 256+len(token)+len(body))
	req = append(req, "POST "...)
	req = append(req, u.RequestURI()...)
	req = append(req, " HTTP/1.1\r\nHost: "...)
	req = append(req, u.Host...)
	req = append(req, "\r\nAuthorization: Bearer "...)
	req = append(req, token...)
	req = append(req, "\r\nContent-Type: application/json\r\nContent-Length: "...)
	req = strconv.AppendInt(req, int64(len(body)), 10)
	req = append(req, "\r\n\r\n"...)
	req = append(req, body...)
	if _, err := conn.Write(req); err != nil {
		conn.Close()
		return 0, nil, fmt.Errorf("caller: POST %s: %w", rawURL, err)
	}
	resp, err := http.ReadResponse(conn.r, nil)
	if err != nil {
		conn.Close()
		return 0, nil, fmt.Errorf("caller: POST %s: %w", rawURL, err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.Close {
		conn.Close()
	} else {
		c.put(u.Host, conn)
	}
	return resp.StatusCode, b, err
}

// conn returns an idle connection to host, or a new one.
func (c *caller) conn(ctx context.Context, host string) (*callerConn, error) {
	c.mu.Lock()
	if list := c.idle[host]; len(list) > 0 {
		conn := list[len(list)-1]
		c.idle[host] = list[:len(list)-1]
		c.mu.Unlock()
		return conn, nil
	}
	c.mu.Unlock()
	d := net.Dialer{Timeout: c.timeout}
	conn, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return nil, err
	}
	return &callerConn{Conn: conn, r: bufio.NewReader(conn)}, nil
}

func (c *caller) put(host string, conn *callerConn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.idle[host] = append(c.idle[host], conn)
}

// close closes the idle connections.
func (c *caller) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for host, list := range c.idle {
		for _, conn := range list {
			conn.Close()
		}
		delete(c.idle, host)
	}
}
