package state

import (
	"math"
	"testing"
	"time"
)

// Cost so far survives a change of shape: the old rate counts until the change.
func TestStepCostAccrues(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	st := &StepState{Status: StatusApplied}
	st.SetCost(1, true, t0)
	st.SetCost(1, true, t0.Add(time.Hour)) // re-applied, same shape: still running since t0
	st.SetCost(10, true, t0.Add(2*time.Hour))
	rec := &Record{Steps: map[string]*StepState{"a": st, "b": {Status: StatusApplied}}}
	c := rec.Cost(t0.Add(3 * time.Hour))
	if c == nil || c.PerHour != 10 || math.Abs(c.SoFar-12) > 1e-9 || c.Steps != 1 {
		t.Fatalf("cost %+v, want $10/h and $12 so far from one step", c)
	}
	st.SetCost(0, false, t0.Add(3*time.Hour)) // the module no longer declares a cost
	if c := rec.Cost(t0.Add(5 * time.Hour)); c == nil || c.PerHour != 0 || math.Abs(c.SoFar-12) > 1e-9 {
		t.Errorf("after the cost became unknown: %+v, want $0/h and the $12 so far", c)
	}
	if c := (&Record{Steps: map[string]*StepState{"b": {Status: StatusApplied}}}).Cost(t0); c != nil {
		t.Errorf("a stack without declared costs shows %+v", c)
	}
}
