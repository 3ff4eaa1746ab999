package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"cloud.google.com/go/firestore"
	"cloud.google.com/go/pubsub/v2"

	"github.com/runwaydata/runway/shared/configs"
	"github.com/runwaydata/runway/shared/executor/message"
	"github.com/runwaydata/runway/shared/runs"
	"github.com/runwaydata/runway/shared/store"
)

// floor does, directly with the stack's own Firestore and Pub/Sub clients,
// the least work a launch must do: one batch read of the caller's member
// document and the configuration, one Commit creating a run-shaped
// document and the slot of max_active_runs it holds, and one publish of a
// launch-sized message, waited for.
//
// The slot is part of the least work since max_active_runs (issue 14):
// every configuration has one, 1 by default as in Tailer, and a launch
// must take a slot in the same write as its run, or two launches could
// both start. The floor takes the configuration's slots at random, as
// Runway does, but only slots it knows free, so it never finds one held;
// after each of its blocks it gives them back by id, as the harness does
// Runway's.
type floor struct {
	fs           *firestore.Client
	member       *firestore.DocumentRef
	config       *firestore.DocumentRef
	runs         *firestore.CollectionRef
	template     map[string]any // a run document as Runway creates it
	slotTemplate map[string]any // the slot document it holds
	maxActive    int            // the configuration's max_active_runs
	mu           sync.Mutex
	held         map[int]bool // the slots the floor holds
	pub          *pubsub.Publisher
	msg          []byte // a launch message as Runway publishes it
	attrs        map[string]string
}

// newFloor builds the floor from a run Runway launched (runID), so that the
// document it creates and the message it publishes are the very shape and
// size of Runway's. It checks the document layout it assumes.
func newFloor(ctx context.Context, s *stack, t launchTarget, runID string) (*floor, error) {
	fs := s.env.Firestore
	account := fs.Collection("accounts").Doc(t.account)
	f := &floor{
		fs:     fs,
		member: account.Collection("members").Doc(strings.ToLower(t.email)),
		config: account.Collection("configurations").Doc(store.ConfigKey(configs.ConfigRef{
			Environment: t.cfg.Environment, Kind: t.cfg.Kind, ConfigurationID: t.cfg.ConfigurationID})),
		runs: account.Collection("runs"),
	}
	f.maxActive, f.held = t.cfg.Schedule.MaxActiveRuns, map[int]bool{}
	snaps, err := fs.GetAll(ctx, []*firestore.DocumentRef{f.member, f.config})
	if err != nil {
		return nil, err
	}
	if !snaps[0].Exists() || !snaps[1].Exists() {
		return nil, fmt.Errorf("the floor's documents %s and %s do not both exist: has shared/store's layout changed?", f.member.Path, f.config.Path)
	}
	key, ok := runs.RunKey(runID)
	if !ok {
		return nil, fmt.Errorf("run id %q has no key", runID)
	}
	snap, err := f.runs.Doc(key).Get(ctx)
	if err != nil {
		return nil, fmt.Errorf("the run document of %s (has shared/store's layout changed?): %w", runID, err)
	}
	// The document as CreateRun wrote it: a launch writes nothing after
	// its publish, and no executor has claimed this run.
	f.template = snap.Data()

	run, err := s.env.Store.GetRun(ctx, t.account, key)
	if err != nil {
		return nil, err
	}
	slot, err := f.slots().Doc(strconv.Itoa(run.Slot)).Get(ctx)
	if err != nil {
		return nil, fmt.Errorf("the slot document of %s (has shared/store's layout changed?): %w", runID, err)
	}
	f.slotTemplate = slot.Data()
	if f.msg, err = json.Marshal(runs.LaunchMessageOf(run, t.cfg.Definition)); err != nil {
		return nil, err
	}
	f.attrs = map[string]string{
		message.AttrAccount: run.Account, message.AttrEnvironment: run.Environment, message.AttrConfigurationType: string(run.Kind),
		message.AttrRunID: run.RunID, message.AttrAttempt: strconv.Itoa(run.Attempt),
	}
	// A publisher with the settings shared/bus gives its own.
	f.pub = s.env.PubSub.Publisher(s.cfg.LaunchTopic)
	f.pub.PublishSettings.CountThreshold = 1
	f.pub.PublishSettings.Timeout = s.cfg.PublishTimeout
	return f, nil
}

// launch does the floor's work and returns the run's key.
func (f *floor) launch(ctx context.Context) (string, error) {
	snaps, err := f.fs.GetAll(ctx, []*firestore.DocumentRef{f.member, f.config})
	if err != nil {
		return "", err
	}
	if !snaps[0].Exists() || !snaps[1].Exists() {
		return "", fmt.Errorf("floor: member or configuration missing")
	}
	key := runs.RandomKey()
	//lint:ignore SA1019 WriteBatch is the one Commit of two creates that CreateRun makes too.
	batch := f.fs.Batch()
	batch.Create(f.runs.Doc(key), f.template)
	batch.Create(f.slots().Doc(strconv.Itoa(f.takeSlot())), f.slotTemplate)
	if _, err := batch.Commit(ctx); err != nil {
		return "", err
	}
	if _, err := f.pub.Publish(ctx, &pubsub.Message{Data: f.msg, Attributes: f.attrs}).Get(ctx); err != nil {
		return "", err
	}
	return key, nil
}

// takeSlot returns a slot of max_active_runs, at random among those the
// floor does not hold.
func (f *floor) takeSlot() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.held) >= f.maxActive {
		panic("the floor holds every slot: more launches in a block than max_active_runs")
	}
	for {
		if n := 1 + rand.IntN(f.maxActive); !f.held[n] {
			f.held[n] = true
			return n
		}
	}
}

// giveBackSlots deletes the slot documents the floor holds.
func (f *floor) giveBackSlots(ctx context.Context) error {
	f.mu.Lock()
	refs := make([]*firestore.DocumentRef, 0, len(f.held))
	for n := range f.held {
		refs = append(refs, f.slots().Doc(strconv.Itoa(n)))
	}
	clear(f.held)
	f.mu.Unlock()
	return deleteAll(ctx, f.fs, refs)
}

// bareHandler is the floor behind a plain net/http handler: no
// authentication, no request decoding or validation, no logging. Timed
// beside Runway's handler, it separates the cost of Runway's own code
// from that of HTTP and of the work.
func (f *floor) bareHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		key, err := f.launch(r.Context())
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"run_id":"`+key+`"}`)
	})
}

// slots is the collection of the slot documents of the configuration's
// max_active_runs that its runs hold.
func (f *floor) slots() *firestore.CollectionRef { return f.config.Collection("slots") }

// maxCommitWrites is how many writes Firestore takes in one Commit.
const maxCommitWrites = 500

// freeSlots deletes the slot documents Runway's launches took. No run of
// the benchmarks ever finishes, and a launch tries one slot of
// max_active_runs at random: as held slots piled up, more and more
// launches would find theirs held and take the path of a launch that
// waits for one (a query of the queue, an admission).
func (f *floor) freeSlots(ctx context.Context) error {
	refs, err := f.slots().DocumentRefs(ctx).GetAll()
	if err != nil {
		return err
	}
	return deleteAll(ctx, f.fs, refs)
}

// deleteAll deletes the documents refs, maxCommitWrites per Commit.
func deleteAll(ctx context.Context, fs *firestore.Client, refs []*firestore.DocumentRef) error {
	for len(refs) > 0 {
		n := min(len(refs), maxCommitWrites)
		//lint:ignore SA1019 WriteBatch deletes many documents in one Commit, where BulkWriter would pace them at 500 a second.
		batch := fs.Batch()
		for _, ref := range refs[:n] {
			batch.Delete(ref)
		}
		if _, err := batch.Commit(ctx); err != nil {
			return err
		}
		refs = refs[n:]
	}
	return nil
}

// variant is one way of launching, timed against the others.
type variant struct {
	name  string
	desc  string
	op    func(ctx context.Context) error
	after func(ctx context.Context) error // if not nil, run after each block or window of the variant, untimed
}

// launchVariants are the three ways of launching the launch benchmarks
// alternate: Runway first (the measured path), the floor second (the
// baseline), and the floor behind HTTP, the step between them.
func launchVariants(s *stack, t launchTarget, f *floor, bare *httptest.Server, client *caller) []variant {
	return []variant{
		{name: "runway", desc: "POST /v1/dag/launch through runway.NewMux (auth, decode, validate, LoadLaunch, CreateRun, publish, log line); nothing is written after the publish",
			op:    func(ctx context.Context) error { _, err := launchHTTP(ctx, client, s.server.URL, t); return err },
			after: f.freeSlots},
		{name: "floor", desc: "the clients directly: GetAll(member, configuration) + one Commit of Create(run) and Create(slot), as CreateRun wrote them + Publish.Get",
			op:    func(ctx context.Context) error { _, err := f.launch(ctx); return err },
			after: f.giveBackSlots},
		{name: "http+floor", desc: "the floor behind a bare net/http handler, called as Runway is: no auth, JSON decoding, validation or logging",
			op:    func(ctx context.Context) error { _, err := launchHTTP(ctx, client, bare.URL, t); return err },
			after: f.giveBackSlots},
	}
}

// result is what one variant measured.
type result struct {
	lat     sample
	thirds  [3]sample // lat, by thirds of the run in order (latency figures only)
	ops     int
	elapsed time.Duration // throughput windows only
	windows []float64     // operations per second of each throughput window, in order
	errs    errorLog
	fs, ps  counts
	cpu     cpuTimes
}

// runBlock runs n operations of v with c concurrent callers, into r.
func runBlock(ctx context.Context, s *stack, v variant, n, c int, r *result) {
	fsBefore, psBefore, cpuBefore := s.fs.snapshot(), s.ps.snapshot(), s.cpu.read()
	var (
		next int64
		mu   sync.Mutex
		wg   sync.WaitGroup
	)
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var local sample
			for atomic.AddInt64(&next, 1) <= int64(n) {
				start := time.Now()
				err := v.op(ctx)
				d := time.Since(start)
				if err != nil {
					r.errs.add(err)
					continue
				}
				local = append(local, d)
			}
			mu.Lock()
			r.lat = append(r.lat, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	r.ops += n
	r.fs = r.fs.plus(s.fs.snapshot().minus(fsBefore))
	r.ps = r.ps.plus(s.ps.snapshot().minus(psBefore))
	r.cpu = r.cpu.plus(s.cpu.read().minus(cpuBefore))
	v.afterwards(ctx, r)
}

// latency alternates blocks of each variant (rotating their order, so
// that none always follows another) until each has done perVariant
// launches, with c concurrent callers.
func latency(ctx context.Context, s *stack, variants []variant, perVariant, block, c int) map[string]*result {
	out := map[string]*result{}
	for _, v := range variants {
		out[v.name] = &result{fs: counts{Calls: map[string]int64{}}, ps: counts{Calls: map[string]int64{}}}
	}
	blocks := (perVariant + block - 1) / block
	for i := range blocks {
		n := min(block, perVariant-i*block)
		for j := range variants {
			v := variants[(i+j)%len(variants)]
			r := out[v.name]
			before := len(r.lat)
			runBlock(ctx, s, v, n, c, r)
			third := &r.thirds[i*len(r.thirds)/blocks]
			*third = append(*third, r.lat[before:]...)
		}
	}
	return out
}

// runFor runs v with c concurrent callers for d, into r: each caller
// starts operations until d has passed.
func runFor(ctx context.Context, s *stack, v variant, d time.Duration, c int, r *result) {
	fsBefore, psBefore, cpuBefore := s.fs.snapshot(), s.ps.snapshot(), s.cpu.read()
	var (
		done int64
		wg   sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(d)
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				if err := v.op(ctx); err != nil {
					r.errs.add(err)
					continue
				}
				atomic.AddInt64(&done, 1)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	r.elapsed += elapsed
	r.ops += int(done)
	r.windows = append(r.windows, float64(done)/elapsed.Seconds())
	r.fs = r.fs.plus(s.fs.snapshot().minus(fsBefore))
	r.ps = r.ps.plus(s.ps.snapshot().minus(psBefore))
	r.cpu = r.cpu.plus(s.cpu.read().minus(cpuBefore))
	v.afterwards(ctx, r)
}

// afterwards runs v's after, once its block or window is measured, and
// counts its failure among r's errors.
func (v variant) afterwards(ctx context.Context, r *result) {
	if v.after == nil {
		return
	}
	if err := v.after(ctx); err != nil {
		r.errs.add(fmt.Errorf("after %s's block: %w", v.name, err))
	}
}

// throughput alternates windows of each variant, rounds times.
func throughput(ctx context.Context, s *stack, variants []variant, rounds int, window time.Duration, c int) map[string]*result {
	out := map[string]*result{}
	for _, v := range variants {
		out[v.name] = &result{fs: counts{Calls: map[string]int64{}}, ps: counts{Calls: map[string]int64{}}}
	}
	for i := range rounds {
		for j := range variants {
			v := variants[(i+j)%len(variants)]
			runFor(ctx, s, v, window, c, out[v.name])
		}
	}
	return out
}

func (r *result) rate() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.ops) / r.elapsed.Seconds()
}

// launchFigures are the results of the launch latency and throughput
// figures.
type launchFigures struct {
	variants    []variant
	seq, conc   map[string]*result // latency
	tp          map[string]*result // throughput
	concCallers int
	tpCallers   int
	tpWindow    time.Duration
	tpRounds    int
	profile     *launchProfile
}

func launchSection(ctx context.Context, o options, rep *report, s *stack, t launchTarget) error {
	client := newCaller(30 * time.Second)
	runID, err := launchHTTP(ctx, client, s.server.URL, t)
	if err != nil {
		return err
	}
	f, err := newFloor(ctx, s, t, runID)
	if err != nil {
		return err
	}
	defer f.pub.Stop()
	bare := httptest.NewServer(f.bareHandler())
	defer bare.Close()
	variants := launchVariants(s, t, f, bare, client)
	fig := &launchFigures{variants: variants, concCallers: o.concCallers, tpCallers: o.tpCallers,
		tpWindow: o.tpWindow, tpRounds: o.tpRounds}
	rep.launch = fig

	// Warm every path up: connections, caches, and the emulators' JIT,
	// which takes thousands of requests to settle.
	log.Printf("launch: warming up for %s", time.Duration(len(variants))*o.warmup)
	warm := newResult()
	for _, v := range variants {
		runFor(ctx, s, v, o.warmup, o.concCallers, warm)
	}
	latency(ctx, s, variants, 100, 50, 1)

	if o.runs("launch") {
		log.Printf("launch latency: %d sequential launches per variant, in blocks of %d", o.launches, o.block)
		fig.seq = latency(ctx, s, variants, o.launches, o.block, 1)
		log.Printf("launch latency: %d launches per variant with %d concurrent callers, in blocks of %d", o.concLaunches, o.concCallers, o.concBlock)
		fig.conc = latency(ctx, s, variants, o.concLaunches, o.concBlock, o.concCallers)
	}
	if o.runs("throughput") {
		log.Printf("throughput: %d callers, %d rounds of %s per variant", o.tpCallers, o.tpRounds, o.tpWindow)
		fig.tp = throughput(ctx, s, variants, o.tpRounds, o.tpWindow, o.tpCallers)
		if o.profile {
			log.Printf("throughput: profiling this process while %d callers launch through Runway for %s", o.tpCallers, o.profileWindow)
			fig.profile = profileLaunches(ctx, s, variants[0], o.profileWindow, o.tpCallers, o.work)
		}
	}
	return nil
}
