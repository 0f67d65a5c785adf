package engine

import (
	"testing"
	"time"

	"github.com/stack-tools/stack/definition"
	"github.com/stack-tools/stack/state"
)

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
		got := chooseTTL(&state.Record{TTL: c.had}, UpOptions{Def: &definition.Definition{TTL: c.def}, TTL: c.flag})
		if got != c.expect {
			t.Errorf("flag %v def %q had %q: got %q, want %q", c.flag, c.def, c.had, got, c.expect)
		}
	}
	r := &state.Record{TTL: "2h"}
	now := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	r.ExtendTTL(now)
	if !r.ExpiresAt.Equal(now.Add(2*time.Hour)) || r.Expired(now.Add(time.Hour)) || !r.Expired(now.Add(3*time.Hour)) {
		t.Errorf("expiry %v", r.ExpiresAt)
	}
	r.TTL = ""
	r.ExtendTTL(now)
	if r.ExpiresAt != nil || r.Expired(now.Add(1000*time.Hour)) {
		t.Error("a stack without TTL expires")
	}
}
