package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/pprof"
	"strings"
	"time"
)

// profilePart is a part of a launch's CPU in this process: the functions
// whose cumulative CPU (their callees included) it is.
type profilePart struct {
	label string
	depth int      // indentation under the part above
	funcs []string // pprof function names, whose cumulative times add up (none calls another)
	perOp float64  // µs per launch
	found bool
}

// launchProfileParts are the parts of Runway's launch path named in the
// report; nested parts are part of the one above them.
func launchProfileParts() []*profilePart {
	rw := "github.com/runwaydata/runway/"
	return []*profilePart{
		{label: "HTTP server connection, whole request (net/http)", funcs: []string{"net/http.(*conn).serve"}},
		{label: "token verification (shared/auth Authenticate)", depth: 1, funcs: []string{rw + "shared/auth.(*Verifier).Authenticate"}},
		{label: "request body decoding and validation (shared/api Endpoint.decode)", depth: 1, funcs: []string{rw + "shared/api.(*Endpoint).decode"}},
		{label: "Launch (shared/runs Service.Launch)", depth: 1, funcs: []string{rw + "shared/runs.(*Service).Launch"}},
		{label: "LoadLaunch: GetAll of member + configuration, and decoding them", depth: 2, funcs: []string{rw + "shared/store.(*Store).LoadLaunch"}},
		{label: "decoding the configuration document (reflection; once per version, store's configCache)", depth: 3, funcs: []string{rw + "shared/store.decodeConfig"}},
		{label: "CreateRun: encoding the run and its slot, and the Commit", depth: 2, funcs: []string{rw + "shared/store.(*Store).CreateRun"}},
		{label: "encoding the document for Firestore (reflection)", depth: 3, funcs: []string{"cloud.google.com/go/firestore.(*DocumentRef).newCreateWrites"}},
		{label: "publish, waited for (shared/runs Service.publish)", depth: 2, funcs: []string{rw + "shared/runs.(*Service).publish"}},
		{label: "launch message encoding and hand-off (shared/bus PublishLaunch)", depth: 3, funcs: []string{rw + "shared/bus.(*Bus).PublishLaunch"}},
		{label: "response encoding (shared/api WriteJSON)", depth: 1, funcs: []string{rw + "shared/api.WriteJSON"}},
		{label: "the request's log line (log/slog)", depth: 1, funcs: []string{"log/slog.(*Logger).LogAttrs"}},
		{label: "Pub/Sub publisher goroutines (bundling, the Publish RPC)", funcs: []string{"cloud.google.com/go/pubsub/v2.(*Publisher).publishMessageBundle"}},
		{label: "gRPC transport readers (Firestore and Pub/Sub answers)", funcs: []string{"google.golang.org/grpc/internal/transport.(*http2Client).reader"}},
		{label: "the callers' requests (the load generator, not Runway)", funcs: []string{"main.(*caller).post"}},
		{label: "garbage collection (background mark workers)", funcs: []string{"runtime.gcBgMarkWorker"}},
	}
}

// launchProfile is a CPU profile of this process while callers launch
// through Runway only.
type launchProfile struct {
	parts    []*profilePart
	launches int
	callers  int
	window   time.Duration
	total    float64 // µs of this process's CPU per launch, from the kernel
	err      string
}

var pprofLine = regexp.MustCompile(`^\s*(\S+)\s+(\S+)%\s+(\S+)%\s+(\S+)\s+(\S+)%\s+(.+)$`)

// profileLaunches profiles this process while c callers launch through
// Runway for d, and attributes the CPU to the parts of the launch path
// with go tool pprof.
func profileLaunches(ctx context.Context, s *stack, v variant, d time.Duration, c int, work string) *launchProfile {
	p := &launchProfile{parts: launchProfileParts(), callers: c, window: d}
	path := filepath.Join(work, "launch-cpu.pprof")
	f, err := os.Create(path)
	if err != nil {
		p.err = err.Error()
		return p
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		p.err = "the CPU profile could not start: " + err.Error()
		return p
	}
	r := newResult()
	runFor(ctx, s, variant{name: v.name, op: v.op}, d, c, r) // v's after is not part of the profile
	pprof.StopCPUProfile()
	f.Close()
	v.afterwards(ctx, r)
	p.launches = r.ops
	p.total = perOp(r.cpu.self, r.ops)
	exe, err := os.Executable()
	if err != nil {
		p.err = err.Error()
		return p
	}
	out, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", "-cum", "-nodecount=1000000", exe, path).Output()
	if err != nil {
		p.err = fmt.Sprintf("go tool pprof: %v", err)
		return p
	}
	cum := map[string]time.Duration{}
	for _, line := range strings.Split(string(out), "\n") {
		m := pprofLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		if d, err := time.ParseDuration(m[4]); err == nil {
			cum[strings.TrimSpace(m[6])] = d
		}
	}
	for _, part := range p.parts {
		var sum time.Duration
		for _, fn := range part.funcs {
			if d, ok := cum[fn]; ok {
				sum += d
				part.found = true
			}
		}
		part.perOp = perOp(sum, r.ops)
	}
	return p
}

// perOp returns the µs per launch of the first part whose label starts
// with prefix (0 when the profile has no sample of it), or NaN without a
// profile.
func (p *launchProfile) perOp(prefix string) float64 {
	if p.err != "" {
		return math.NaN()
	}
	for _, part := range p.parts {
		if strings.HasPrefix(part.label, prefix) {
			return part.perOp
		}
	}
	return math.NaN()
}

// resolution is the CPU per launch of one profile sample (10 ms), in µs.
func (p *launchProfile) resolution() float64 { return perOp(10*time.Millisecond, p.launches) }
