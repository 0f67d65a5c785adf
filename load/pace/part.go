package pace

import (
	"fmt"
	"time"
)

// Part is one of Parts interleaved shares of a schedule: request n of the
// part is request n*Parts+Index of the whole. The parts together send exactly
// the requests of the whole schedule, at the same intended times, whatever
// the rate and shape; each part runs at 1/Parts of the rate.
type Part struct {
	Whole        Schedule
	Index, Parts int
}

// Due implements Schedule.
func (p Part) Due(n uint64) time.Duration {
	return p.Whole.Due(n*uint64(p.Parts) + uint64(p.Index))
}

// Pace implements vegeta.Pacer.
func (p Part) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	return pace(p, elapsed, hits)
}

// Rate implements vegeta.Pacer.
func (p Part) Rate(elapsed time.Duration) float64 { return p.Whole.Rate(elapsed) / float64(p.Parts) }

func (p Part) String() string { return p.Whole.String() }

// Requests is how many of the first n requests of the whole schedule fall to
// part index of parts.
func Requests(n uint64, index, parts int) uint64 {
	if parts <= 1 {
		return n
	}
	if n <= uint64(index) {
		return 0
	}
	return (n-uint64(index)-1)/uint64(parts) + 1
}

func (s Spec) part(runFor time.Duration) (Schedule, error) {
	if s.Part < 0 || s.Part >= s.Parts {
		return nil, fmt.Errorf("rate: part %d of %d: want 0 <= part < parts", s.Part, s.Parts)
	}
	whole := s
	whole.Part, whole.Parts = 0, 0
	w, err := whole.Build(runFor)
	if err != nil {
		return nil, err
	}
	return Part{Whole: w, Index: s.Part, Parts: s.Parts}, nil
}
