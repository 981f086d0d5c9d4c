package auth

import (
	"sync"
	"time"

	"tienda/app/web"
)

// holderState is what the JWT layer knows of a token's holder.
type holderState struct {
	p       web.Principal
	revoked bool
	expires time.Time
}

// holderCache keeps holder states for a short TTL, so that a client's
// stream of requests reads its user once per TTL, not once per request.
// It is bounded: when full it starts over.
type holderCache struct {
	mu  sync.Mutex
	ttl time.Duration
	max int
	m   map[string]holderState
}

func newHolderCache(ttl time.Duration, max int) *holderCache {
	return &holderCache{ttl: ttl, max: max, m: map[string]holderState{}}
}

func (hc *holderCache) get(key string) (holderState, bool) {
	hc.mu.Lock()
	defer hc.mu.Unlock()
	h, ok := hc.m[key]
	if !ok || time.Now().After(h.expires) {
		return holderState{}, false
	}
	return h, true
}

func (hc *holderCache) put(key string, h holderState) {
	h.expires = time.Now().Add(hc.ttl)
	hc.mu.Lock()
	defer hc.mu.Unlock()
	if len(hc.m) >= hc.max {
		clear(hc.m)
	}
	hc.m[key] = h
}
