package store

import (
	"sync"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/runwaydata/runway/shared/configs"
)

// configCacheSize bounds the configurations a configCache holds. An
// instance launches a few configurations over and over; when it holds
// this many, it starts again empty rather than track which is oldest.
const configCacheSize = 1024

// configCache keeps the configurations LoadLaunch decoded, by document
// path and update time. Every launch reads its configuration's document,
// so the cache never answers with a stale one: a configuration written
// since has another update time and is decoded again. What it saves is
// the decoding, which is the most CPU a launch spends in Runway's own
// code: the document's two dozen fields by reflection, and its definition
// parsed from JSON.
//
// The configurations it returns share their definition map and workflow
// with every launch of the same version: nothing that reads a
// configuration changes them, and nothing may.
type configCache struct {
	mu      sync.Mutex
	entries map[string]cachedConfig
}

type cachedConfig struct {
	updated time.Time
	cfg     configs.Configuration
}

// decode returns the configuration snap holds.
func (c *configCache) decode(snap *firestore.DocumentSnapshot) (configs.Configuration, error) {
	path := snap.Ref.Path
	c.mu.Lock()
	e, ok := c.entries[path]
	c.mu.Unlock()
	if ok && e.updated.Equal(snap.UpdateTime) {
		return e.cfg, nil
	}
	cfg, err := decodeConfig(snap)
	if err != nil {
		return configs.Configuration{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil || len(c.entries) >= configCacheSize {
		c.entries = make(map[string]cachedConfig)
	}
	c.entries[path] = cachedConfig{updated: snap.UpdateTime, cfg: cfg}
	return cfg, nil
}
