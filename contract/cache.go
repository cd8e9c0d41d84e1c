package contract

import "sync"

// cache keeps values by key within a budget of bytes, dropping the oldest
// first. Its keys name content (an expression, a document's hash), so a
// value never goes stale: only its memory needs a bound, not an age.
type cache[V any] struct {
	mu     sync.Mutex
	budget int
	used   int
	m      map[string]cached[V]
	order  []string // insertion order, oldest first
}

type cached[V any] struct {
	v    V
	size int
}

func newCache[V any](budget int) *cache[V] {
	return &cache[V]{budget: budget, m: map[string]cached[V]{}}
}

func (c *cache[V]) get(key string) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	return e.v, ok
}

// put adds a value that costs size bytes; one larger than the whole
// budget is not kept.
func (c *cache[V]) put(key string, v V, size int) {
	if size > c.budget {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[key]; ok {
		return
	}
	for c.used+size > c.budget && len(c.order) > 0 {
		old := c.order[0]
		c.order = c.order[1:]
		c.used -= c.m[old].size
		delete(c.m, old)
	}
	c.m[key] = cached[V]{v: v, size: size}
	c.order = append(c.order, key)
	c.used += size
}
