package stack

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// CostFile is the file in a module folder that declares the module's rough
// hourly cost per profile, for example
//
//	{"per_hour": {"minimal": 0.05, "production": 0.15, "default": 0.05},
//	 "note": "1 NAT gateway + its IP; 3 in production"}
//
// "default" is the cost with no profile. The engine records the figure when it
// applies the step, so `stack list` and `status` can show what a stack costs
// from any workstation without reading modules.
const CostFile = "stack-cost.json"

// ModuleCost is what a CostFile declares.
type ModuleCost struct {
	PerHour map[string]float64 `json:"per_hour"`
	Note    string             `json:"note,omitempty"`
}

// ReadModuleCost reads a module's CostFile; ok is false when it has none.
func ReadModuleCost(dir string) (c ModuleCost, ok bool, err error) {
	b, err := os.ReadFile(filepath.Join(dir, CostFile))
	if errors.Is(err, fs.ErrNotExist) {
		return c, false, nil
	}
	if err != nil {
		return c, false, err
	}
	if err := DecodeStrict(b, &c); err != nil {
		return c, false, fmt.Errorf("%s: %w (expected {\"per_hour\": {\"PROFILE\": DOLLARS}, \"note\": \"...\"})", filepath.Join(dir, CostFile), err)
	}
	for p, v := range c.PerHour {
		if v < 0 {
			return c, false, fmt.Errorf("%s: per_hour.%s is negative", filepath.Join(dir, CostFile), p)
		}
	}
	return c, true, nil
}

// For returns the hourly cost under a profile ("" is "default").
func (c ModuleCost) For(profile string) (float64, bool) {
	if profile == "" {
		profile = "default"
	}
	v, ok := c.PerHour[profile]
	return v, ok
}

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
func (s *StepState) setCost(perHour float64, known bool, now time.Time) {
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

// stepCost is the declared hourly cost of a step under the plan's profile.
func (r *runner) stepCost(s *Step) (float64, bool) {
	if s.Module == "" {
		return 0, false
	}
	c, ok, err := ReadModuleCost(s.Module)
	if err != nil {
		r.e.emit(Event{Stack: r.w.name, Step: s.Name, Type: EventInfo, Message: "cost not recorded: " + err.Error()})
		return 0, false
	}
	if !ok {
		return 0, false
	}
	return c.For(r.plan.Profile)
}

// MarshalJSON keeps cost figures to a tenth of a cent.
func (c Cost) MarshalJSON() ([]byte, error) {
	type plain Cost
	round := func(f float64) float64 { return float64(int64(f*1000+0.5)) / 1000 }
	return json.Marshal(plain{PerHour: round(c.PerHour), SoFar: round(c.SoFar), Steps: c.Steps})
}
