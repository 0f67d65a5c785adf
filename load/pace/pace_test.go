package pace_test

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stack-tools/stack/load/pace"
)

// count returns how many requests are due before t.
func count(s pace.Schedule, t time.Duration) int {
	n := 0
	for s.Due(uint64(n)) < t {
		n++
	}
	return n
}

func build(t *testing.T, js string, runFor time.Duration) pace.Schedule {
	t.Helper()
	var spec pace.Spec
	if err := json.Unmarshal([]byte(js), &spec); err != nil {
		t.Fatal(err)
	}
	s, err := spec.Build(runFor)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConstantFromANumber(t *testing.T) {
	s := build(t, `250`, time.Minute)
	if got := count(s, 2*time.Second); got != 500 {
		t.Errorf("250/s for 2s: %d requests", got)
	}
}

// The users' stepwise test: 50/s, +50/s every 5 minutes, up to 150/s.
func TestStepsHoldEachRateForItsInterval(t *testing.T) {
	s := build(t, `{"shape":"steps","start":50,"step":50,"every":"5m","max":150}`, time.Hour)
	want := []int{50 * 300, 100 * 300, 150 * 300, 150 * 300}
	for k, w := range want {
		from, to := time.Duration(k)*5*time.Minute, time.Duration(k+1)*5*time.Minute
		if got := count(s, to) - count(s, from); got != w {
			t.Errorf("step %d: %d requests, want %d", k, got, w)
		}
	}
	if r := s.Rate(12 * time.Minute); r != 150 {
		t.Errorf("rate after 12m = %g, want the max 150", r)
	}
}

func TestRampGrowsLinearly(t *testing.T) {
	s := build(t, `{"shape":"ramp","start":0,"max":100,"over":"10s"}`, 0)
	// Area under a 0→100/s line over 10s is 500 requests; then 100/s.
	if got := count(s, 10*time.Second); math.Abs(float64(got-500)) > 1 {
		t.Errorf("ramp: %d requests in 10s, want 500", got)
	}
	if got := count(s, 5*time.Second); math.Abs(float64(got-125)) > 1 {
		t.Errorf("ramp: %d requests in the first 5s, want 125", got)
	}
	if got := count(s, 12*time.Second) - count(s, 10*time.Second); got != 200 {
		t.Errorf("after the ramp: %d requests in 2s, want 200", got)
	}
}

func TestTrickleEvery(t *testing.T) {
	s := build(t, `{"shape":"trickle","every":"10s"}`, time.Hour)
	if got := count(s, time.Hour); got != 360 {
		t.Errorf("trickle every 10s for an hour: %d requests", got)
	}
}

// Pace (the vegeta.Pacer view) agrees with Due.
func TestPaceMatchesDue(t *testing.T) {
	s := build(t, `{"shape":"steps","start":10,"step":10,"every":"1s"}`, time.Minute)
	wait, stop := s.Pace(0, 15)
	if stop || wait != s.Due(15) {
		t.Errorf("Pace(0, 15) = %s, %v; want %s", wait, stop, s.Due(15))
	}
	if wait, _ := s.Pace(time.Hour, 15); wait != 0 {
		t.Errorf("a late hit should go at once, wait %s", wait)
	}
}

func TestBadSpecsSayWhatToFix(t *testing.T) {
	cases := map[string]string{
		`0`:                               `"rate" > 0`,
		`{"shape":"steps","start":5}`:     `"every"`,
		`{"shape":"ramp","max":10}`:       `"over"`,
		`{"shape":"trickle"}`:             `"every"`,
		`{"shape":"wave"}`:                `unknown shape "wave"`,
		`{"shape":"steps","strat":5}`:     `unknown field "strat"`,
		`{"shape":"trickle","every":"x"}`: `duration such as`,
	}
	for js, want := range cases {
		var spec pace.Spec
		err := json.Unmarshal([]byte(js), &spec)
		if err == nil {
			_, err = spec.Build(0)
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", js, err, want)
		}
	}
}
