package offline

import (
	"context"

	tongbao "github.com/tongbao/tongbao"
)

// linksMax bounds the token links the service remembers; past it the
// memory is cleared and refilled from the store.
const linksMax = 1 << 20

// linkCache remembers what the store holds at (payer, counter): the links
// of the tokens there, or that there are none. Only the node that
// decides syncs writes tokens, and it adds to the cache only what a
// committed batch stored, so the cache never says less than the store;
// after a failover the new writer starts empty. It is used under syncMu.
type linkCache struct {
	byPayer map[tongbao.ID]map[uint64][]TokenLink
	n       int
}

// fill reads from the store the counters of payer the cache does not
// know, in one query.
func (c *linkCache) fill(ctx context.Context, st Store, payer tongbao.ID, counters []uint64) error {
	if c.byPayer == nil || c.n > linksMax {
		c.byPayer, c.n = map[tongbao.ID]map[uint64][]TokenLink{}, 0
	}
	ch := c.byPayer[payer]
	if ch == nil {
		ch = map[uint64][]TokenLink{}
		c.byPayer[payer] = ch
	}
	var missing []uint64
	for _, n := range counters {
		if _, ok := ch[n]; !ok {
			missing = append(missing, n)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	links, err := st.TokenLinks(ctx, payer, missing)
	if err != nil {
		return err
	}
	for _, n := range missing {
		ch[n] = nil
	}
	for _, l := range links {
		ch[l.Counter] = append(ch[l.Counter], l)
	}
	c.n += len(missing)
	return nil
}

// get returns the links at (payer, counter), and whether they are known.
func (c *linkCache) get(payer tongbao.ID, counter uint64) ([]TokenLink, bool) {
	ls, ok := c.byPayer[payer][counter]
	return ls, ok
}

// add records links a committed batch stored.
func (c *linkCache) add(payer tongbao.ID, l TokenLink) {
	if c.byPayer == nil {
		return
	}
	ch := c.byPayer[payer]
	if ch == nil {
		ch = map[uint64][]TokenLink{}
		c.byPayer[payer] = ch
	}
	if _, ok := ch[l.Counter]; !ok {
		return // not known before: the store will answer, with this one
	}
	ch[l.Counter] = append(ch[l.Counter], l)
	c.n++
}
