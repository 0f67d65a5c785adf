package scenario

import "fmt"

// slice narrows the senders this generator draws from to its part's share of
// the pool, so no two parts of a split run send as the same sender.
func (g *Generator) slice(o Options) error {
	g.senderLo, g.senderN = 0, len(g.Senders)
	if o.Parts <= 1 {
		return nil
	}
	if o.Part < 0 || o.Part >= o.Parts {
		return fmt.Errorf("part %d of %d: want 0 <= part < parts", o.Part, o.Parts)
	}
	n := len(g.Senders)
	if n < o.Parts {
		return fmt.Errorf("senders: a pool of %d cannot be split among %d workers; give at least %d senders", n, o.Parts, o.Parts)
	}
	lo, hi := o.Part*n/o.Parts, (o.Part+1)*n/o.Parts
	g.senderLo, g.senderN = lo, hi-lo
	return nil
}

// partSeed derives the sequence seed of one part from the run's seed
// (splitmix64 of the pair), so parts draw different but reproducible
// sequences; a run that is not split keeps its seed.
func partSeed(seed uint64, part, parts int) uint64 {
	if parts <= 1 {
		return seed
	}
	z := seed + uint64(part+1)*0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// SenderRange is this part's slice of Senders: [lo, hi).
func (g *Generator) SenderRange() (lo, hi int) { return g.senderLo, g.senderLo + g.senderN }
