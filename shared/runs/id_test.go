package runs

import (
	"regexp"
	"testing"
	"time"

	"github.com/runwaydata/runway/shared/configs"
)

func TestRunKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		id      string
		wantKey string
		ok      bool
	}{
		{"20201230-113940-1fb692b0-3531-4578-9919-acf6fdb0a5b1", "1fb692b0-3531-4578-9919-acf6fdb0a5b1", true},
		{"20201209-cf026ae9-c79c-4cf9-8ffb-0bb63ad39469", "cf026ae9-c79c-4cf9-8ffb-0bb63ad39469", true},
		{"20201332-113940-1fb692b0-3531-4578-9919-acf6fdb0a5b1", "", false}, // month 13
		{"20201230-256000-1fb692b0-3531-4578-9919-acf6fdb0a5b1", "", false}, // hour 25
		{"20201230-113940-1FB692B0-3531-4578-9919-ACF6FDB0A5B1", "", false}, // upper case
		{"20201230-113940-1fb692b0", "", false},
		{"1fb692b0-3531-4578-9919-acf6fdb0a5b1", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		key, ok := RunKey(tt.id)
		if key != tt.wantKey || ok != tt.ok {
			t.Errorf("RunKey(%q) = %q, %v; want %q, %v", tt.id, key, ok, tt.wantKey, tt.ok)
		}
		if (ValidateRunID(tt.id) == nil) != tt.ok {
			t.Errorf("ValidateRunID(%q) disagrees with RunKey", tt.id)
		}
	}
}

var uuid4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestNewRunIDRoundTrips(t *testing.T) {
	t.Parallel()
	at := time.Date(2020, 12, 30, 12, 39, 40, 0, time.FixedZone("CET", 3600))
	key := RandomKey()
	id := NewRunID(at, key)
	if want := "20201230-113940-" + key; id != want {
		t.Fatalf("NewRunID = %q, want %q (UTC)", id, want)
	}
	if got, ok := RunKey(id); !ok || got != key {
		t.Errorf("RunKey(NewRunID) = %q, %v", got, ok)
	}
}

func TestIdempotentKey(t *testing.T) {
	t.Parallel()
	a := IdempotentKey("000099", "nightly-2020-12-30")
	if !uuid4.MatchString(a) {
		t.Errorf("IdempotentKey = %q, not shaped as a UUID v4", a)
	}
	if b := IdempotentKey("000099", "nightly-2020-12-30"); a != b {
		t.Errorf("IdempotentKey is not deterministic: %q, %q", a, b)
	}
	if b := IdempotentKey("000110", "nightly-2020-12-30"); a == b {
		t.Error("the same key in two accounts addresses the same run")
	}
	if b := IdempotentKey("000099", "nightly-2020-12-31"); a == b {
		t.Error("two keys address the same run")
	}
	if !uuid4.MatchString(RandomKey()) {
		t.Error("RandomKey is not a UUID v4")
	}
}

func TestKinds(t *testing.T) {
	t.Parallel()
	for typ, want := range map[string]configs.Kind{"table-to-table": configs.KindTableToTable, "gbq-to-gbq": configs.KindTableToTable, "storage-to-storage": configs.KindStorageToStorage, "workflow": configs.KindWorkflow} {
		if got, ok := configs.KindOf(typ); !ok || got != want {
			t.Errorf("KindOf(%q) = %q, %v; want %q", typ, got, ok, want)
		}
	}
	if _, ok := configs.KindOf("Table-To-Table"); ok {
		t.Error("KindOf accepts a type in the wrong case")
	}
	if got, want := configs.DefaultJobID(configs.KindTableToTable, "000099_iowa_liquor_prepare_pda_DEV"), "gbq-to-gbq|000099_iowa_liquor_prepare_pda_DEV"; got != want {
		t.Errorf("DefaultJobID = %q, want %q", got, want)
	}
	if got, want := configs.DefaultJobID(configs.KindTableToStorage, "x"), "table-to-storage|x"; got != want {
		t.Errorf("DefaultJobID = %q, want %q", got, want)
	}
}

func TestDuration(t *testing.T) {
	t.Parallel()
	start := time.Date(2020, 12, 30, 11, 28, 43, 0, time.UTC)
	now := start.Add(time.Hour)
	running := Run{StartExecutionDate: start}
	if got := running.Duration(now); got != time.Hour {
		t.Errorf("running duration = %v, want 1h (to now)", got)
	}
	done := Run{StartExecutionDate: start, EndDate: start.Add(84 * time.Second)}
	if got := done.Duration(now); got != 84*time.Second {
		t.Errorf("finished duration = %v, want 84s (to the end)", got)
	}
	if got := (Run{StartExecutionDate: now}).Duration(start); got != 0 {
		t.Errorf("duration before the start = %v, want 0", got)
	}
}
