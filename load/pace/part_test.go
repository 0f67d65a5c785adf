package pace_test

import (
	"testing"
	"time"

	"github.com/stack-tools/stack/load/pace"
)

// The parts of a split schedule send exactly the requests of the whole, at
// the same intended times, whatever the shape: rate×duration stays exact.
func TestPartsAddUpToTheWholeSchedule(t *testing.T) {
	for _, spec := range []pace.Spec{
		{Rate: 3000},
		{Rate: 1000.5},
		{Shape: "steps", Start: 50, Step: 50, Every: pace.Duration(time.Second), Max: 250},
		{Shape: "ramp", Start: 10, Max: 500, Over: pace.Duration(3 * time.Second)},
	} {
		const runFor = 5 * time.Second
		whole, err := spec.Build(runFor)
		if err != nil {
			t.Fatal(err)
		}
		var want []time.Duration
		for n := uint64(0); whole.Due(n) < runFor; n++ {
			want = append(want, whole.Due(n))
		}
		for _, parts := range []int{1, 2, 3, 7} {
			seen := map[time.Duration]int{}
			total := 0
			for i := range parts {
				s := spec
				s.Part, s.Parts = i, parts
				p, err := s.Build(runFor)
				if err != nil {
					t.Fatal(err)
				}
				for n := uint64(0); p.Due(n) < runFor; n++ {
					seen[p.Due(n)]++
					total++
				}
				if got := p.Rate(time.Second) * float64(parts); parts > 1 && (got < whole.Rate(time.Second)-1e-9 || got > whole.Rate(time.Second)+1e-9) {
					t.Errorf("%s part %d/%d: rate %g, want 1/%d of %g", whole, i, parts, p.Rate(time.Second), parts, whole.Rate(time.Second))
				}
			}
			if total != len(want) {
				t.Errorf("%s in %d parts: %d requests, want %d", whole, parts, total, len(want))
			}
			for _, d := range want {
				if seen[d] == 0 {
					t.Errorf("%s in %d parts: no part sends the request due at %s", whole, parts, d)
					break
				}
				seen[d]--
			}
		}
	}
}

func TestRequestsSplitsACount(t *testing.T) {
	for _, n := range []uint64{3, 10, 15000, 15001} {
		for _, parts := range []int{1, 2, 3} {
			var sum uint64
			for i := range parts {
				sum += pace.Requests(n, i, parts)
			}
			if sum != n {
				t.Errorf("%d requests in %d parts: %d", n, parts, sum)
			}
		}
	}
}
