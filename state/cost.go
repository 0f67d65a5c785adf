package state

import (
	"encoding/json"
	"time"
)

// Cost is a rough running cost in US dollars.
type Cost struct {
	PerHour float64 `json:"per_hour"`
	SoFar   float64 `json:"so_far"`
	// Steps is how many applied steps declare a cost; the others count as zero.
	Steps int `json:"steps"`
}

// Cost adds up the declared cost of the applied steps; nil when none declares one.
func (r *Record) Cost(now time.Time) *Cost {
	var c Cost
	for _, st := range r.Steps {
		if st.Status != StatusApplied || st.CostSince == nil && st.CostAccrued == 0 {
			continue
		}
		c.Steps++
		c.PerHour += st.CostPerHour
		c.SoFar += st.costSoFar(now)
	}
	if c.Steps == 0 {
		return nil
	}
	return &c
}

func (s *StepState) costSoFar(now time.Time) float64 {
	total := s.CostAccrued
	if s.CostSince != nil && now.After(*s.CostSince) {
		total += s.CostPerHour * now.Sub(*s.CostSince).Hours()
	}
	return total
}

// setCost records the step's hourly cost from now on, keeping what the
// previous shape cost so far.
func (s *StepState) SetCost(perHour float64, known bool, now time.Time) {
	if s.CostSince != nil && s.CostPerHour == perHour && known {
		return // the same shape keeps running
	}
	s.CostAccrued = s.costSoFar(now)
	s.CostPerHour, s.CostSince = 0, nil
	if known {
		t := now.UTC()
		s.CostPerHour, s.CostSince = perHour, &t
	}
}

// MarshalJSON keeps cost figures to a tenth of a cent.
func (c Cost) MarshalJSON() ([]byte, error) {
	type plain Cost
	round := func(f float64) float64 { return float64(int64(f*1000+0.5)) / 1000 }
	return json.Marshal(plain{PerHour: round(c.PerHour), SoFar: round(c.SoFar), Steps: c.Steps})
}
