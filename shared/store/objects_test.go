package store_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/runwaydata/runway/shared/configs"
	"github.com/runwaydata/runway/shared/runs"
	"github.com/runwaydata/runway/shared/store"
	"github.com/runwaydata/runway/shared/testenv"
)

// FuzzStoredObjects stores arbitrary JSON objects as a run's metrics and
// as a configuration's definition in the emulator, and reads them back:
// whatever the API accepts is stored, and read back as it was. Its seeds
// are the shapes a Firestore map cannot hold.
func FuzzStoredObjects(f *testing.F) {
	deep := `"bottom"`
	for range 25 {
		deep = `{"level": ` + deep + `}`
	}
	for _, seed := range []string{
		`{}`,
		`{"rows": 12, "tables": ["a", "b"]}`,
		`{"deep": ` + deep + `}`,
		`{"matrix": [[1, 2], [[3]], []]}`,
		`{"": "empty key", "__name__": "reserved", "__x__": {"__name__": true}}`,
		`{"a.b": {"c/d": "e"}, "` + "`" + `": null, "n": 1e300}`,
	} {
		f.Add(seed)
	}
	ctx := context.Background()
	s, err := store.New(testenv.Firestore(f, testenv.Project(f)), testenv.StoreTimeout)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, text string) {
		var obj map[string]any
		if json.Unmarshal([]byte(text), &obj) != nil || obj == nil {
			return
		}
		run := newRun("c_DEV", "DEV", runs.StatusSuccess, time.Now().UTC().Truncate(time.Microsecond))
		run.Metrics = obj
		if err := s.CreateRun(ctx, run); err != nil {
			t.Fatalf("%s: CreateRun: %v", text, err)
		}
		got, err := s.GetRun(ctx, "000099", run.Key)
		if err != nil || !cmp.Equal(got.Metrics, obj) {
			t.Fatalf("%s: metrics read back as %v (%v)", text, got.Metrics, err)
		}
		cfg := configs.Configuration{Account: "000099", Environment: "DEV", ConfigurationType: "table-to-table",
			Kind: configs.KindTableToTable, ConfigurationID: "c_" + run.Key, JobID: "gbq-to-gbq|c", Definition: obj}
		if err := s.PutConfiguration(ctx, cfg); err != nil {
			t.Fatalf("%s: PutConfiguration: %v", text, err)
		}
		read, err := s.GetConfiguration(ctx, "000099", cfg.Ref())
		if err != nil || !cmp.Equal(read.Definition, obj) {
			t.Fatalf("%s: definition read back as %v (%v)", text, read.Definition, err)
		}
	})
}
