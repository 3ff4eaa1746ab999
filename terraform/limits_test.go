package terraform_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/grpc"

	"github.com/runwaydata/runway/shared/api"
	"github.com/runwaydata/runway/shared/stacktest"
	"github.com/runwaydata/runway/shared/store"
)

var updateLimits = flag.Bool("update-limits", false, "rewrite ../bench/design-limits.md with the limits computed")

// hotRange is the write rate Firestore documents for one index range of
// increasing values (timestamps): "500 writes per second" to a collection
// whose documents hold sequential values in an indexed field, which
// sharding the index lifts (Firestore's best practices and limits pages).
const hotRange = 500

// designLimitsFile holds the table bench/RESULTS.md includes: the bench
// copies it, and TestDesignLimits keeps it equal to what the code does.
const designLimitsFile = "../bench/design-limits.md"

// TestDesignLimits computes, from what the code writes and what
// terraform/firestore.tf indexes, the launch rates the design sustains
// before its first index range of increasing values reaches hotRange
// writes/s, and checks that ../bench/design-limits.md says so (go test
// ./terraform -run TestDesignLimits -update-limits rewrites it).
//
// It records, at the stack's Firestore client, every write of one run's
// life on the emulators (launch, claim, a heartbeat, SUCCESS), replays
// them to know each document before and after each write, and counts the
// index entries each write adds or removes: every field's automatic
// single-field indexes (ascending and descending; array-contains for
// arrays), but for the fields local.unindexed_fields exempts, and every
// composite index of local.firestore_indexes the document belongs to. An
// entry holding a timestamp is in a range of increasing values; its range
// is its index, its parent document for a collection-scoped index, and the
// values of the fields before the timestamp.
func TestDesignLimits(t *testing.T) {
	m, err := parseModule(".")
	if err != nil {
		t.Fatal(err)
	}
	idx, err := m.indexes()
	if err != nil {
		t.Fatal(err)
	}
	writes, reads := recordRunLife(t)
	got := designLimits(t, idx, writes, reads)
	if *updateLimits {
		if err := os.WriteFile(designLimitsFile, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(designLimitsFile)
	if err != nil || string(want) != got {
		t.Errorf("%s is not what the code computes (go test ./terraform -run TestDesignLimits -update-limits, then read the diff):\n%s", designLimitsFile, got)
	}
}

// firestoreIndexes is what terraform/firestore.tf tells about indexing.
type firestoreIndexes struct {
	composite []compositeIndex
	exempt    map[string]map[string]bool // collection → the fields without single-field indexes
}

type compositeIndex struct {
	scope, collection string
	fields            []string // in order; the last is the one ranges are ordered on
	orders            []string
}

func (i compositeIndex) String() string {
	var parts []string
	for n, f := range i.fields {
		parts = append(parts, f+" "+map[string]string{"ASCENDING": "asc", "DESCENDING": "desc"}[i.orders[n]])
	}
	scope := "collection"
	if i.scope == "COLLECTION_GROUP" {
		scope = "collection group"
	}
	return fmt.Sprintf("%s (%s; %s)", i.collection, strings.Join(parts, ", "), scope)
}

// indexes evaluates local.firestore_indexes, and the fields without
// single-field indexes: local.unindexed_fields,
// local.composite_only_fields, and expire_at in local.ttl_collections
// (google_firestore_field.expire_at has no index either).
func (m *module) indexes() (firestoreIndexes, error) {
	out := firestoreIndexes{exempt: map[string]map[string]bool{}}
	v, ok := m.values["firestore_indexes"]
	if !ok {
		return out, fmt.Errorf("local.firestore_indexes does not evaluate")
	}
	for it := v.ElementIterator(); it.Next(); {
		_, index := it.Element()
		ci := compositeIndex{scope: index.GetAttr("scope").AsString(), collection: index.GetAttr("collection").AsString()}
		for fit := index.GetAttr("fields").ElementIterator(); fit.Next(); {
			_, f := fit.Element()
			pair := strings_(f)
			ci.fields, ci.orders = append(ci.fields, pair[0]), append(ci.orders, pair[1])
		}
		out.composite = append(out.composite, ci)
	}
	for _, local := range []string{"unindexed_fields", "composite_only_fields"} {
		u := m.values[local]
		if u.IsNull() || !u.CanIterateElements() {
			return out, fmt.Errorf("local.%s does not evaluate", local)
		}
		for it := u.ElementIterator(); it.Next(); {
			k, fields := it.Element()
			if out.exempt[k.AsString()] == nil {
				out.exempt[k.AsString()] = map[string]bool{}
			}
			for _, f := range strings_(fields) {
				out.exempt[k.AsString()][f] = true
			}
		}
	}
	for _, c := range strings_(m.values["ttl_collections"]) {
		if out.exempt[c] == nil {
			out.exempt[c] = map[string]bool{}
		}
		out.exempt[c]["expire_at"] = true
	}
	return out, nil
}

// readCounter is a gRPC interceptor that counts the document reads
// Firestore bills in each step: a document got, found or not, a document a
// query returns, and one for a query that returns none.
type readCounter struct {
	mu    sync.Mutex
	step  string
	reads map[string]int
}

func (r *readCounter) interceptStream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	s, err := streamer(ctx, desc, cc, method, opts...)
	if err != nil {
		return s, err
	}
	r.mu.Lock()
	step := r.step
	r.mu.Unlock()
	return &countingStream{ClientStream: s, counter: r, step: step}, nil
}

// countingStream counts the documents of BatchGetDocuments and RunQuery
// answers.
type countingStream struct {
	grpc.ClientStream
	counter  *readCounter
	step     string
	returned int
}

func (s *countingStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	read := 0
	switch resp := m.(type) {
	case *firestorepb.BatchGetDocumentsResponse:
		if err == nil && (resp.GetFound() != nil || resp.GetMissing() != "") {
			read = 1
		}
	case *firestorepb.RunQueryResponse:
		if err == nil && resp.GetDocument() != nil {
			read, s.returned = 1, s.returned+1
		}
		if err != nil && s.returned == 0 {
			read, s.returned = 1, 1 // a query that returned nothing
		}
	}
	if read > 0 && s.step != "" {
		s.counter.mu.Lock()
		s.counter.reads[s.step] += read
		s.counter.mu.Unlock()
	}
	return err
}

// recordedWrite is one write the stack committed, in the step of the
// run's life it belongs to ("" for the setup).
type recordedWrite struct {
	step  string
	write *firestorepb.Write
}

// lifeSteps are the steps of a run's life the limits count, in order.
var lifeSteps = []string{"launch", "claim", "heartbeat", "finish"}

// recordRunLife runs one run of a configuration with a timeout (so that it
// has a deadline) and max_active_runs 1 through the stack, and returns
// every write the stack made, the setup's included.
func recordRunLife(t *testing.T) ([]recordedWrite, map[string]int) {
	commits, reads := &stacktest.CommitRecorder{}, &readCounter{reads: map[string]int{}}
	s := stacktest.New(t, stacktest.WithFirestoreDialOptions(grpc.WithChainUnaryInterceptor(commits.Intercept),
		grpc.WithChainStreamInterceptor(reads.interceptStream)))
	var writes []recordedWrite
	// begin ends the step under way, taking its writes, and begins step.
	begin := func(step string) {
		reads.mu.Lock()
		defer reads.mu.Unlock()
		for _, w := range commits.Take() {
			writes = append(writes, recordedWrite{reads.step, w})
		}
		reads.step = step
	}
	s.Seed(t)
	def, _ := json.Marshal(map[string]any{"action": "deploy_configuration", "configuration": map[string]any{
		"configuration_type": "table-to-table", "configuration_id": "000099_limits", "account": "000099", "environment": "DEV",
		"timeout": "1h"}})
	var deployed api.ConfigurationResponse
	s.Post(t, "/v1/configuration", string(def)).Decode(t, &deployed)
	configID := deployed.Configuration.ConfigurationID

	begin("launch")
	var launched api.LaunchResponse
	s.Post(t, "/v1/dag/launch", `{"action": "launch_job", "account": "000099", "environment": "DEV",
		"configuration_type": "table-to-table", "configuration_id": "`+configID+`"}`).Decode(t, &launched)
	executor := s.Token(t, stacktest.Executor)
	report := func(status string) {
		t.Helper()
		s.Do(t, "POST", "/v1/dag/status", executor, `{"action": "report_run_status", "account": "000099",
			"configuration_type": "table-to-table", "configuration_id": "`+configID+`", "run_id": "`+launched.RunID+`",
			"executor_id": "executor-1", "status": "`+status+`"}`).Decode(t, &api.Results{})
	}
	begin("claim")
	report("RUNNING")
	begin("heartbeat")
	report("RUNNING")
	begin("finish")
	report("SUCCESS")
	begin("")
	reads.mu.Lock()
	defer reads.mu.Unlock()
	return writes, maps.Clone(reads.reads)
}

// indexEntry is one entry of an index: its identity (index and values),
// and, for an entry holding a timestamp, the range of increasing values it
// is written into.
type indexEntry struct {
	index      string // how the table names it
	rangeKey   string // "" for an entry without a timestamp
	level      string // what the range is one of: see levelOf
	identifier string
	// spread is how many ranges the level's writes into the index are
	// spread over: the values of its first field when that is a hash of
	// the run's key (see spreadOf); 1 otherwise.
	spread int
}

// entriesOf returns the index entries of a document.
func entriesOf(idx firestoreIndexes, name string, fields map[string]*firestorepb.Value) map[string]indexEntry {
	collection, parent := collectionOf(name)
	out := map[string]indexEntry{}
	// add adds an entry of index; rangeParent is "" for a collection group
	// index, whose ranges span every parent.
	add := func(index, level string, spread int, rangeParent, prefix string, values []*firestorepb.Value) {
		e := indexEntry{index: index, level: level, spread: spread}
		var ids []string
		timestamped := false
		for _, v := range values {
			ids = append(ids, v.String())
			if v.GetTimestampValue() != nil {
				timestamped = true
			}
		}
		e.identifier = index + "|" + parent + "|" + strings.Join(ids, "|") + "|" + name
		if timestamped {
			e.rangeKey = index + "|" + rangeParent + "|" + prefix
		}
		out[e.identifier] = e
	}
	// Automatic single-field indexes, collection-scoped.
	var single func(path string, v *firestorepb.Value)
	single = func(path string, v *firestorepb.Value) {
		switch {
		case v.GetArrayValue() != nil:
			for _, e := range v.GetArrayValue().GetValues() {
				add(collection+"."+path+" (array-contains)", levelOf(collection, false, nil), 1, parent, "", []*firestorepb.Value{e})
			}
		case v.GetMapValue() != nil:
			for k, sub := range v.GetMapValue().GetFields() {
				single(path+"."+k, sub)
			}
		default:
			for _, order := range []string{"asc", "desc"} {
				add(fmt.Sprintf("%s (%s %s; collection, automatic)", collection, path, order), levelOf(collection, false, nil), 1, parent, "", []*firestorepb.Value{v})
			}
		}
	}
	for f, v := range fields {
		if !idx.exempt[collection][f] {
			single(f, v)
		}
	}
	// Composite indexes the document has every field of.
	for _, ci := range idx.composite {
		if ci.collection != collection {
			continue
		}
		values := make([]*firestorepb.Value, 0, len(ci.fields))
		for _, f := range ci.fields {
			if v, ok := fields[f]; ok {
				values = append(values, v)
			}
		}
		if len(values) != len(ci.fields) {
			continue
		}
		var prefix []string
		for _, v := range values[:len(values)-1] {
			prefix = append(prefix, v.String())
		}
		group, rangeParent := ci.scope == "COLLECTION_GROUP", parent
		if group {
			rangeParent = ""
		}
		add(ci.String(), levelOf(collection, group, ci.fields[:len(ci.fields)-1]), spreadOf(ci.fields[0]), rangeParent, strings.Join(prefix, "|"), values)
	}
	return out
}

// collectionOf returns the collection id of a document and the path of
// its parent document.
func collectionOf(name string) (collection, parent string) {
	_, path, _ := strings.Cut(name, "/documents/")
	segments := strings.Split(path, "/")
	return segments[len(segments)-2], strings.Join(segments[:len(segments)-2], "/")
}

// The levels of the ranges: what one range's writes come from.
const (
	levelConfiguration = "one configuration"
	levelAccount       = "one account"
	levelRun           = "one run"
	levelShard         = "one shard of every account"
	levelGroup         = "every account"
)

// levelOf says whose writes an index range takes: a collection group
// index's, every account's (or a shard's of them, when a shard field comes
// first); a collection's, its parent's, narrowed to a configuration by a
// config_key equality.
func levelOf(collection string, group bool, equalities []string) string {
	switch {
	case group && (slices.Contains(equalities, "shard") || slices.Contains(equalities, "schedule_shard")):
		return levelShard
	case group:
		return levelGroup
	case slices.Contains(equalities, "config_key") || collection == "slots":
		return levelConfiguration
	case collection == "events":
		return levelRun
	}
	return levelAccount
}

// spreadOf returns how many ranges an index whose first field is first
// cuts each level's writes into: a run's shard and lane are hashes of its
// key (store.RunShard, store.RunLane), so runs fall evenly into the
// store.RunShards shards, the store.RunLanes lanes, and one range of such
// an index takes that share of the writes of its level; a
// configuration's schedule shard is a hash of its reference
// (store.ScheduleShards).
func spreadOf(first string) int {
	switch first {
	case "shard":
		return store.RunShards
	case "schedule_shard":
		return store.ScheduleShards
	case "lane":
		return store.RunLanes
	}
	return 1
}

// designLimits replays writes and writes the table of ../bench/design-limits.md.
func designLimits(t *testing.T, idx firestoreIndexes, writes []recordedWrite, reads map[string]int) string {
	docs := map[string]map[string]*firestorepb.Value{}
	type stepCount struct{ docs, entries int }
	perStep := map[string]*stepCount{}
	// Per range of increasing values: the writes one run makes into it.
	rangeWrites := map[string]int{}
	rangeOf := map[string]indexEntry{}
	for _, rw := range writes {
		w := rw.write
		var name string
		var after map[string]*firestorepb.Value
		switch {
		case w.GetDelete() != "":
			name = w.GetDelete()
		case w.GetUpdate() != nil:
			name = w.GetUpdate().GetName()
			if mask := w.GetUpdateMask(); mask != nil {
				after = maps.Clone(docs[name])
				if after == nil {
					after = map[string]*firestorepb.Value{}
				}
				for _, path := range mask.GetFieldPaths() {
					if strings.Contains(path, ".") {
						t.Fatalf("a write updates the nested field %s of %s: the replay handles top-level fields only", path, name)
					}
					if v, ok := w.GetUpdate().GetFields()[path]; ok {
						after[path] = v
					} else {
						delete(after, path)
					}
				}
			} else {
				after = w.GetUpdate().GetFields()
			}
		default:
			t.Fatalf("a write of a kind the replay does not know: %v", w)
		}
		if len(w.GetUpdateTransforms()) > 0 {
			t.Fatalf("a write with server-side transforms (%s): the replay does not know them", name)
		}
		before := docs[name]
		if after == nil {
			delete(docs, name)
		} else {
			docs[name] = after
		}
		if rw.step == "" {
			continue
		}
		c := perStep[rw.step]
		if c == nil {
			c = &stepCount{}
			perStep[rw.step] = c
		}
		c.docs++
		old, cur := entriesOf(idx, name, before), entriesOf(idx, name, after)
		changed := func(a, b map[string]indexEntry) {
			for id, e := range a {
				if _, ok := b[id]; ok {
					continue
				}
				c.entries++
				if e.rangeKey != "" {
					rangeWrites[e.rangeKey]++
					rangeOf[e.rangeKey] = e
				}
			}
		}
		changed(old, cur) // removed
		changed(cur, old) // added
	}
	// The busiest range of each level: the one that reaches hotRange at
	// the fewest launches/s, hotRange × spread / writes.
	type busiest struct {
		index          string
		writes, spread int
	}
	byLevel := map[string]busiest{}
	for key, n := range rangeWrites {
		e := rangeOf[key]
		b, seen := byLevel[e.level]
		// n/e.spread against b.writes/b.spread, in integers.
		heavier, even := n*b.spread-b.writes*e.spread, n*b.spread == b.writes*e.spread
		if !seen || heavier > 0 || (even && e.index < b.index) {
			byLevel[e.level] = busiest{e.index, n, e.spread}
		}
	}
	limit := func(level string) (float64, busiest) {
		b, ok := byLevel[level]
		if !ok || b.writes == 0 {
			return 0, b
		}
		return float64(hotRange) * float64(b.spread) / float64(b.writes), b
	}

	var out strings.Builder
	fmt.Fprintf(&out, "## Design limits\n\n")
	fmt.Fprintf(&out, "Computed by `go test ./terraform -run TestDesignLimits` (which fails when this file is not what it computes; "+
		"`-update-limits` rewrites it), not typed by hand: it records, at the Firestore client, every write of one run's life "+
		"through the stack on the emulators (launch, the executor's claim, one heartbeat, SUCCESS; the configuration has a "+
		"timeout and max_active_runs 1), replays them, and counts the index entries each write adds or removes under the indexes "+
		"of `terraform/firestore.tf` (automatic single-field indexes for every field `local.unindexed_fields`, "+
		"`local.composite_only_fields` and the TTL policies do not exempt, and the composite indexes). An entry that holds a "+
		"timestamp goes into a range of increasing values, which Firestore sustains at about %d writes/s; a range is one index, "+
		"one parent document for a collection's index, and the values before the timestamp (the shard, the lane, the "+
		"configuration's key, the status...). A run's shard and lane are hashes of its key, so an index that starts with the "+
		"shard (`store.RunShards` = %d) or the lane (`store.RunLanes` = %d) spreads its level's runs evenly over that many "+
		"ranges, and its level sustains that many times a range's rate.\n\n", hotRange, store.RunShards, store.RunLanes)
	fmt.Fprintf(&out, "| step of a run | document reads | document writes | index entries written |\n|---|---:|---:|---:|\n")
	totalReads, totalDocs, totalEntries := 0, 0, 0
	for _, step := range lifeSteps {
		c := perStep[step]
		if c == nil {
			c = &stepCount{}
		}
		totalReads, totalDocs, totalEntries = totalReads+reads[step], totalDocs+c.docs, totalEntries+c.entries
		fmt.Fprintf(&out, "| %s | %d | %d | %d |\n", step, reads[step], c.docs, c.entries)
	}
	fmt.Fprintf(&out, "| **a run** | **%d** | **%d** | **%d** |\n\n", totalReads, totalDocs, totalEntries)

	fmt.Fprintf(&out, "| whose writes a range takes | its busiest range of increasing values | writes per run into it | launches/s at %d writes/s |\n|---|---|---:|---:|\n", hotRange)
	for _, level := range []string{levelConfiguration, levelAccount, levelShard, levelGroup, levelRun} {
		rate, b := limit(level)
		switch {
		case b.writes == 0 && level == levelGroup:
			fmt.Fprintf(&out, "| %s | none: every collection group range starts with a shard | 0 | no limit here |\n", level)
		case b.writes == 0:
			fmt.Fprintf(&out, "| %s | none | 0 | no limit here |\n", level)
		case level == levelRun:
			fmt.Fprintf(&out, "| %s | %s | %d | not a hot spot: one run's own events |\n", level, b.index, b.writes)
		case level == levelShard:
			fmt.Fprintf(&out, "| %s (%d shards) | %s | %d | %s (%s per shard) |\n", level, b.spread, b.index, b.writes,
				thousands(rate), thousands(rate/float64(b.spread)))
		case b.spread > 1:
			fmt.Fprintf(&out, "| %s, by lane (%d lanes) | %s | %d | %s (%s per lane) |\n", level, b.spread, b.index, b.writes,
				thousands(rate), thousands(rate/float64(b.spread)))
		default:
			fmt.Fprintf(&out, "| %s | %s | %d | %s |\n", level, b.index, b.writes, thousands(rate))
		}
	}
	account, _ := limit(levelAccount)
	configuration, _ := limit(levelConfiguration)
	if configuration == 0 || account < configuration {
		configuration = account
	}
	system, _ := limit(levelShard)
	if group, b := limit(levelGroup); b.writes > 0 && group < system {
		system = group
	}
	fmt.Fprintf(&out, "\n**Sustained launches/s before the first limit:** every account together **%s**; one account **%s**; "+
		"one configuration **%s** (its account's ranges bound it too). A platform above one account's figure spreads its "+
		"configurations over several accounts (%s accounts for 5,000/s), or takes more lanes (`store.RunLanes`), each lane "+
		"a query more for every runs read (docs/scale.md).\n",
		thousands(system), thousands(account), thousands(configuration), thousands(ceilDiv(5000, account)))
	return out.String()
}

func ceilDiv(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	n := a / b
	if float64(int(n)) < n {
		return float64(int(n) + 1)
	}
	return n
}

// thousands writes n rounded down, with thousands separators.
func thousands(n float64) string {
	s := fmt.Sprintf("%d", int64(n))
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
