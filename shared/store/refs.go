package store

import (
	"sync"

	"cloud.google.com/go/firestore"
)

// accountRefs are the references an account's paths start from.
type accountRefs struct {
	doc                           *firestore.DocumentRef
	members, configurations, runs *firestore.CollectionRef
}

// accountRefCacheSize bounds the accounts an accountRefCache holds; past
// it, the cache starts again empty rather than track which is oldest.
const accountRefCacheSize = 1024

// accountRefCache keeps each account's references once built. The
// Firestore client allocates every reference with its whole path, and a
// collection's with a query of its own: a launch built 9 document and 5
// collection references, a hundred allocations, most of them the same
// account's every time.
//
// The references are shared by every caller, so nothing may call their
// WithReadOptions, which changes a reference in place.
type accountRefCache struct {
	accounts *firestore.CollectionRef // every path starts here
	mu       sync.Mutex
	entries  map[string]*accountRefs
}

// of returns the references of account.
func (c *accountRefCache) of(account string) *accountRefs {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r, ok := c.entries[account]; ok {
		return r
	}
	if c.entries == nil || len(c.entries) >= accountRefCacheSize {
		c.entries = make(map[string]*accountRefs)
	}
	doc := c.accounts.Doc(account)
	r := &accountRefs{doc: doc, members: doc.Collection("members"), configurations: doc.Collection("configurations"), runs: doc.Collection("runs")}
	c.entries[account] = r
	return r
}
