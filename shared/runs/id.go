package runs

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"regexp"
	"time"

	"github.com/google/uuid"
)

// A run id is YYYYMMDD-HHMMSS-<uuid4> in UTC, for example
// 20201230-113940-1fb692b0-3531-4578-9919-acf6fdb0a5b1. Ids of the older
// form YYYYMMDD-<uuid4> (storage-to-storage runs) are accepted on reads.
var (
	runIDPattern       = regexp.MustCompile(`^(\d{8})-(\d{6})-([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$`)
	legacyRunIDPattern = regexp.MustCompile(`^(\d{8})-([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$`)
)

// RunKey returns the document key of a run id: its UUID part. Keying runs
// by the random part rather than the time prefix spreads writes over the
// key space instead of hot-spotting the newest key range.
func RunKey(runID string) (string, bool) {
	if m := runIDPattern.FindStringSubmatch(runID); m != nil {
		if _, err := time.Parse("20060102150405", m[1]+m[2]); err == nil {
			return m[3], true
		}
	}
	if m := legacyRunIDPattern.FindStringSubmatch(runID); m != nil {
		if _, err := time.Parse("20060102", m[1]); err == nil {
			return m[2], true
		}
	}
	return "", false
}

// NewRunID returns a run id for a run started at now with the given key.
func NewRunID(now time.Time, key string) string {
	return now.UTC().Format("20060102-150405") + "-" + key
}

// RandomKey returns a new random run key (a UUID v4).
func RandomKey() string { return uuid.NewString() }

// IdempotentKey returns the run key of a launch made with an idempotency
// key: a UUID v4-shaped hash of the account and the key, so that every
// replay of the launch addresses the same run document and the store's
// create-if-absent decides, atomically, which one creates it.
func IdempotentKey(account, idempotencyKey string) string {
	sum := sha256.Sum256([]byte("runway/idempotency\x00" + account + "\x00" + idempotencyKey))
	var u uuid.UUID
	copy(u[:], sum[:16])
	u[6] = (u[6] & 0x0f) | 0x40 // version 4
	u[8] = (u[8] & 0x3f) | 0x80 // RFC 4122 variant
	return u.String()
}

// AuditIDOf derives a run's audit id from its key: a positive number below
// 2^53, so that JavaScript clients read it exactly, as the ETLWorks-style
// executions endpoint gives it.
func AuditIDOf(key string) int64 {
	sum := sha256.Sum256([]byte("runway/audit\x00" + key))
	id := int64(binary.BigEndian.Uint64(sum[:8]) & (1<<53 - 1))
	if id == 0 {
		id = 1
	}
	return id
}

// ValidateRunID explains what is wrong with a run id, or returns nil.
func ValidateRunID(runID string) error {
	if _, ok := RunKey(runID); !ok {
		return fmt.Errorf("must be YYYYMMDD-HHMMSS-<uuid> (or the older YYYYMMDD-<uuid>), in lower case")
	}
	return nil
}
