package engine

import (
	"math"
	"testing"
	"time"

	"github.com/stack-tools/stack/definition"
)

func TestParseTTL(t *testing.T) {
	for in, want := range map[string]time.Duration{"": 0, "8h": 8 * time.Hour, "1h30m": 90 * time.Minute, "1s": time.Second} {
		if got, err := definition.ParseTTL(in); err != nil || got != want {
			t.Errorf("ParseTTL(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"0", "-5m", "soon", "8"} {
		if _, err := definition.ParseTTL(in); err == nil {
			t.Errorf("ParseTTL(%q) accepted", in)
		}
	}
}

// The flag wins, then the definition, then what the stack had; 0 removes it.
func TestChooseTTL(t *testing.T) {
	d := func(s string) *time.Duration { v, _ := time.ParseDuration(s); return &v }
	cases := []struct {
		flag   *time.Duration
		def    string
		had    string
		expect string
	}{
		{nil, "", "", ""},
		{nil, "", "3h", "3h"},
		{nil, "2h", "3h", "2h"},
		{d("1h"), "2h", "3h", "1h0m0s"},
		{d("0s"), "2h", "3h", ""},
	}
	for _, c := range cases {
		got := chooseTTL(&Record{TTL: c.had}, UpOptions{Def: &definition.Definition{TTL: c.def}, TTL: c.flag})
		if got != c.expect {
			t.Errorf("flag %v def %q had %q: got %q, want %q", c.flag, c.def, c.had, got, c.expect)
		}
	}
	r := &Record{TTL: "2h"}
	now := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	r.extendTTL(now)
	if !r.ExpiresAt.Equal(now.Add(2*time.Hour)) || r.Expired(now.Add(time.Hour)) || !r.Expired(now.Add(3*time.Hour)) {
		t.Errorf("expiry %v", r.ExpiresAt)
	}
	r.TTL = ""
	r.extendTTL(now)
	if r.ExpiresAt != nil || r.Expired(now.Add(1000*time.Hour)) {
		t.Error("a stack without TTL expires")
	}
}

// Cost so far survives a change of shape: the old rate counts until the change.
func TestStepCostAccrues(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	st := &StepState{Status: StatusApplied}
	st.setCost(1, true, t0)
	st.setCost(1, true, t0.Add(time.Hour)) // re-applied, same shape: still running since t0
	st.setCost(10, true, t0.Add(2*time.Hour))
	rec := &Record{Steps: map[string]*StepState{"a": st, "b": {Status: StatusApplied}}}
	c := rec.Cost(t0.Add(3 * time.Hour))
	if c == nil || c.PerHour != 10 || math.Abs(c.SoFar-12) > 1e-9 || c.Steps != 1 {
		t.Fatalf("cost %+v, want $10/h and $12 so far from one step", c)
	}
	st.setCost(0, false, t0.Add(3*time.Hour)) // the module no longer declares a cost
	if c := rec.Cost(t0.Add(5 * time.Hour)); c == nil || c.PerHour != 0 || math.Abs(c.SoFar-12) > 1e-9 {
		t.Errorf("after the cost became unknown: %+v, want $0/h and the $12 so far", c)
	}
	if c := (&Record{Steps: map[string]*StepState{"b": {Status: StatusApplied}}}).Cost(t0); c != nil {
		t.Errorf("a stack without declared costs shows %+v", c)
	}
}
