package offline

import (
	"context"
	"math"

	tongbao "github.com/tongbao/tongbao"
)

// The link cache's memory: each link it holds costs about linkBytes (the
// link, its slice and map entry), and past linksBytesMax the cache is
// cleared and refills from the store, one query per device.
const (
	linkBytes     = 160
	linksBytesMax = 32 << 20
	linksMax      = linksBytesMax / linkBytes
)

// linkCache remembers what the store holds at (payer, counter): the links
// of the tokens there, or that there are none. Only the node that
// decides syncs writes tokens, and it adds to the cache only what a
// committed batch stored, so the cache never says less than the store;
// after a failover the new writer starts empty. It is used under syncMu.
type linkCache struct {
	byPayer map[tongbao.ID]map[uint64][]TokenLink
	// from is, per payer, the counter from which the cache holds every
	// link the store holds: a counter at or past it that the cache lacks
	// has no token.
	from map[tongbao.ID]uint64
	n    int
}

// fill makes the cache know counters of payer: if it does not hold
// every link of payer from the lowest of them on, it reads them all from
// there in one query. A device's tokens arrive roughly in counter order,
// so that is about one query per device the node has not seen lately.
func (c *linkCache) fill(ctx context.Context, st Store, payer tongbao.ID, counters []uint64) error {
	if c.byPayer == nil || c.n > linksMax {
		c.byPayer, c.from, c.n = map[tongbao.ID]map[uint64][]TokenLink{}, map[tongbao.ID]uint64{}, 0
	}
	lo := counters[0]
	for _, n := range counters {
		lo = min(lo, n)
	}
	if from, ok := c.from[payer]; ok && from <= lo {
		return nil
	}
	ls, err := st.TokenLinks(ctx, payer, lo, math.MaxUint64)
	if err != nil {
		return err
	}
	ch := map[uint64][]TokenLink{}
	for _, l := range ls {
		ch[l.Counter] = append(ch[l.Counter], l)
	}
	c.byPayer[payer], c.from[payer] = ch, lo
	c.n += len(ls) + 1
	return nil
}

// get returns the links at (payer, counter), and whether they are known.
func (c *linkCache) get(payer tongbao.ID, counter uint64) ([]TokenLink, bool) {
	from, ok := c.from[payer]
	if !ok || counter < from {
		return nil, false
	}
	return c.byPayer[payer][counter], true
}

// add records links a committed batch stored.
func (c *linkCache) add(payer tongbao.ID, l TokenLink) {
	if from, ok := c.from[payer]; !ok || l.Counter < from {
		return // not known: the store will answer, with this one
	}
	c.byPayer[payer][l.Counter] = append(c.byPayer[payer][l.Counter], l)
	c.n++
}
