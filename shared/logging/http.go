package logging

import (
	"log/slog"
	"net/http"
	"strconv"
	"time"
)

// Middleware puts a logger carrying the request's trace into the request's
// context and, when the handler returns, logs one line for the request:
//
//	{"severity":"WARNING","message":"POST /v1/dag/status 404","httpRequest":{...},"action":"check_run_status","account":"000099",...}
//
// The severity follows the status: ERROR for 5xx, WARNING for 4xx, INFO
// otherwise. Handlers add fields to the line with Annotate.
func Middleware(base *slog.Logger, project string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		logger := base
		if attr, ok := TraceAttr(project, r.Header.Get("X-Cloud-Trace-Context")); ok {
			logger = logger.With(attr)
		}
		ctx, notes := withAnnotations(WithLogger(r.Context(), logger))
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r.WithContext(ctx))

		latency := time.Since(start)
		level := slog.LevelInfo
		switch {
		case rec.status >= 500:
			level = slog.LevelError
		case rec.status >= 400:
			level = slog.LevelWarn
		}
		attrs := make([]slog.Attr, 0, 8)
		attrs = append(attrs,
			slog.Attr{Key: "httpRequest", Value: slog.GroupValue(
				slog.String("requestMethod", r.Method),
				slog.String("requestUrl", r.URL.RequestURI()),
				slog.Int("status", rec.status),
				slog.Int64("responseSize", rec.bytes),
				slog.String("userAgent", r.UserAgent()),
				slog.String("remoteIp", r.RemoteAddr),
				slog.String("latency", strconv.FormatFloat(latency.Seconds(), 'f', 6, 64)+"s"),
			)},
			slog.Int("status", rec.status),
			slog.Float64("latency_ms", float64(latency.Microseconds())/1000),
		)
		attrs = notes.appendTo(attrs)
		logger.LogAttrs(ctx, level, r.Method+" "+r.URL.Path+" "+strconv.Itoa(rec.status), attrs...)
	})
}

// statusRecorder remembers the status and size of the response.
type statusRecorder struct {
	http.ResponseWriter
	status      int
	bytes       int64
	wroteHeader bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wroteHeader {
		s.status, s.wroteHeader = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.wroteHeader = true
	n, err := s.ResponseWriter.Write(b)
	s.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
