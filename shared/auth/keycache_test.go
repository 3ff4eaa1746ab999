package auth

import (
	"fmt"
	"testing"
	"time"
)

// TestKnownAccountsEvictionKeepsCallers: when the key cache is full, the
// entry that goes is the least recently used of the accounts no token has
// been verified for; a caller's entry, even older, stays.
func TestKnownAccountsEvictionKeepsCallers(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	k := newServiceAccountKeys("https://keys.test/{email}", nil, func() time.Time { return now }, 10, 20)
	email := func(i int) string { return fmt.Sprintf("sa-%d@p.iam.gserviceaccount.com", i) }
	for i := range maxKnownAccounts {
		at := now.Add(time.Duration(i) * time.Second)
		k.storeKnown(email(i), keySet{fetched: at, expires: at.Add(time.Hour)})
	}
	k.proven(email(0)) // the oldest, but a caller
	k.storeKnown("new@p.iam.gserviceaccount.com", keySet{fetched: now, expires: now.Add(time.Hour)})
	if len(k.known) != maxKnownAccounts {
		t.Fatalf("%d accounts cached, want %d", len(k.known), maxKnownAccounts)
	}
	if _, ok := k.known[email(0)]; !ok {
		t.Error("the caller's keys were evicted")
	}
	if _, ok := k.known[email(1)]; ok {
		t.Error("the least recently used account that is no caller was kept")
	}
}
