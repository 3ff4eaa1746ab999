// Package logging writes structured JSON logs in the format Cloud Logging
// reads from stdout (severity, message, trace), carries the logger in the
// request's context, and logs one line per HTTP request.
package logging

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
)

// TraceKey is the field Cloud Logging uses to group log lines by trace.
const TraceKey = "logging.googleapis.com/trace"

// New returns a logger that writes one JSON object per line to w, with
// Cloud Logging's field names: "severity" (DEBUG, INFO, WARNING, ERROR),
// "message" and "time".
func New(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) > 0 {
				return a
			}
			switch a.Key {
			case slog.LevelKey:
				return slog.String("severity", severity(a.Value.Any().(slog.Level)))
			case slog.MessageKey:
				a.Key = "message"
			}
			return a
		},
	}))
}

func severity(l slog.Level) string {
	switch {
	case l >= slog.LevelError:
		return "ERROR"
	case l >= slog.LevelWarn:
		return "WARNING"
	case l >= slog.LevelInfo:
		return "INFO"
	default:
		return "DEBUG"
	}
}

// ParseLevel parses "debug", "info", "warning" or "error".
func ParseLevel(s string) (slog.Level, bool) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, true
	case "info", "":
		return slog.LevelInfo, true
	case "warn", "warning":
		return slog.LevelWarn, true
	case "error":
		return slog.LevelError, true
	}
	return 0, false
}

type loggerKey struct{}

var defaultLogger = sync.OnceValue(func() *slog.Logger { return New(os.Stdout, slog.LevelInfo) })

// WithLogger returns a context that carries l.
func WithLogger(ctx context.Context, l *slog.Logger) context.Context {
	return context.WithValue(ctx, loggerKey{}, l)
}

// FromContext returns the context's logger, or a JSON logger on stdout.
func FromContext(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok {
		return l
	}
	return defaultLogger()
}

// TraceAttr returns the Cloud Logging trace attribute for an
// X-Cloud-Trace-Context header ("TRACE_ID/SPAN_ID;o=1"), or false when the
// header carries no trace.
func TraceAttr(project, header string) (slog.Attr, bool) {
	traceID, _, _ := strings.Cut(header, "/")
	traceID, _, _ = strings.Cut(traceID, ";")
	if traceID == "" || len(traceID) > 64 || strings.ContainsAny(traceID, " \"\\") {
		return slog.Attr{}, false
	}
	return slog.String(TraceKey, "projects/"+project+"/traces/"+traceID), true
}

// annotations collects attributes that a handler adds while it works, so
// that the request's single log line carries them (action, account, run_id).
type annotations struct {
	mu    sync.Mutex
	attrs []slog.Attr
}

type annotationsKey struct{}

func withAnnotations(ctx context.Context) (context.Context, *annotations) {
	a := &annotations{}
	return context.WithValue(ctx, annotationsKey{}, a), a
}

// Annotate adds attributes to the current request's log line. Outside a
// request it does nothing.
func Annotate(ctx context.Context, attrs ...slog.Attr) {
	if a, ok := ctx.Value(annotationsKey{}).(*annotations); ok {
		a.mu.Lock()
		a.attrs = append(a.attrs, attrs...)
		a.mu.Unlock()
	}
}

// appendTo appends the annotations to attrs.
func (a *annotations) appendTo(attrs []slog.Attr) []slog.Attr {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append(attrs, a.attrs...)
}
