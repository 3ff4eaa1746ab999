package logging

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

func TestCloudLoggingFields(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	New(&buf, slog.LevelDebug).Warn("disk almost full", slog.String("disk", "/"))
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("not one JSON object: %q", buf.String())
	}
	if line["severity"] != "WARNING" || line["message"] != "disk almost full" || line["disk"] != "/" {
		t.Errorf("line = %v", line)
	}
	if _, ok := line["level"]; ok {
		t.Error("line has slog's level key as well as severity")
	}
}

func TestTraceAttr(t *testing.T) {
	t.Parallel()
	attr, ok := TraceAttr("p", "105445aa7843bc8bf206b12000100000/1;o=1")
	if !ok || attr.Key != TraceKey || attr.Value.String() != "projects/p/traces/105445aa7843bc8bf206b12000100000" {
		t.Errorf("TraceAttr = %v, %v", attr, ok)
	}
	for _, bad := range []string{"", "/1;o=1", "has space/1"} {
		if _, ok := TraceAttr("p", bad); ok {
			t.Errorf("TraceAttr(%q) found a trace", bad)
		}
	}
}

func TestMiddlewareLogsOneLinePerRequest(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	h := Middleware(New(&buf, slog.LevelInfo), "p", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		Annotate(r.Context(), slog.String("action", "check_run_status"), slog.String("account", "000099"))
		FromContext(r.Context()).InfoContext(r.Context(), "inside")
		w.WriteHeader(http.StatusNotFound)
	}))
	r := httptest.NewRequest(http.MethodPost, "/v1/dag/status", nil)
	r.Header.Set("X-Cloud-Trace-Context", "abc/1;o=1")
	h.ServeHTTP(httptest.NewRecorder(), r)

	lines := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
	if len(lines) != 2 {
		t.Fatalf("%d lines, want the handler's and the request's:\n%s", len(lines), buf.String())
	}
	for _, l := range lines {
		var line map[string]any
		if err := json.Unmarshal(l, &line); err != nil {
			t.Fatal(err)
		}
		if line[TraceKey] != "projects/p/traces/abc" {
			t.Errorf("line without the trace: %s", l)
		}
	}
	var req map[string]any
	_ = json.Unmarshal(lines[1], &req)
	if req["severity"] != "WARNING" || req["message"] != "POST /v1/dag/status 404" || req["action"] != "check_run_status" ||
		req["account"] != "000099" || req["status"] != float64(404) {
		t.Errorf("request line = %s", lines[1])
	}
	if hr, ok := req["httpRequest"].(map[string]any); !ok || hr["status"] != float64(404) || hr["requestMethod"] != "POST" {
		t.Errorf("httpRequest = %v", req["httpRequest"])
	}
}

// BenchmarkMiddleware is the cost of a request's log line, written to a
// file as a function's stdout would be: the launch path's throughput
// (bench/RESULTS.md) pays it on every request.
func BenchmarkMiddleware(b *testing.B) {
	f, err := os.Create(filepath.Join(b.TempDir(), "log"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	h := Middleware(New(f, slog.LevelInfo), "p", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		Annotate(r.Context(), slog.String("caller", "executer@example.com"))
		Annotate(r.Context(), slog.String("action", "launch_job"), slog.String("account", "000099"))
		Annotate(r.Context(), slog.String("run_id", "20261201-145600-7d7f6c2e-7c1a-4bb1-9f3e-0d6a4f3b2c1d"), slog.Bool("queued", false))
	}))
	r := httptest.NewRequest(http.MethodPost, "/v1/dag/launch", nil)
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
}
