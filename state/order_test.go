package state_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stack-tools/stack/state"
)

func TestStepOrder(t *testing.T) {
	steps := func(names ...string) map[string]*state.StepState {
		m := map[string]*state.StepState{}
		for _, n := range names {
			m[n] = &state.StepState{Status: state.StatusApplied}
		}
		return m
	}
	for _, c := range []struct {
		name string
		def  string
		recs map[string]*state.StepState
		want string
	}{
		{"definition order, not name order", `{"steps": [{"name": "web"}, {"name": "db"}, {"name": "app"}]}`,
			steps("app", "db", "web"), "web,db,app"},
		{"steps the definition dropped come last, by name", `{"steps": [{"name": "web"}]}`,
			steps("web", "zeta", "alpha"), "web,alpha,zeta"},
		{"steps not in the record are left out, a repeated name counted once", `{"steps": [{"name": "new"}, {"name": "db"}, {"name": "db"}]}`,
			steps("db"), "db"},
		{"an unreadable definition sorts by name", `not json`, steps("b", "a"), "a,b"},
		{"no steps", `{"steps": []}`, nil, ""},
	} {
		rec := &state.Record{Definition: json.RawMessage(c.def), Steps: c.recs}
		if got := strings.Join(rec.StepOrder(), ","); got != c.want {
			t.Errorf("%s: StepOrder() = %s, want %s", c.name, got, c.want)
		}
	}
}
