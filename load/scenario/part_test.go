package scenario_test

import (
	"testing"

	"github.com/stack-tools/stack/load/scenario"
)

// The parts of a split run share one sender pool (made from the run's seed),
// each sends as its own slice of it only, and their sequences differ.
func TestPartsSendAsDisjointSendersWithTheirOwnSequence(t *testing.T) {
	sc := builtin(t, "sms-inbound")
	const parts = 3
	owner := map[int]int{}
	var firstIDs []string
	for p := range parts {
		g, err := scenario.NewGenerator(sc, "http://127.0.0.1:8080", scenario.Options{Seed: 42, Senders: 30, Part: p, Parts: parts})
		if err != nil {
			t.Fatal(err)
		}
		whole, err := scenario.NewGenerator(sc, "http://127.0.0.1:8080", scenario.Options{Seed: 42, Senders: 30})
		if err != nil {
			t.Fatal(err)
		}
		for i := range g.Senders {
			if g.Senders[i] != whole.Senders[i] {
				t.Fatalf("part %d: sender %d differs from the whole run's pool", p, i)
			}
		}
		var m scenario.Message
		for i := range 500 {
			if err := g.Next(&m); err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				firstIDs = append(firstIDs, m.ID)
			}
			if o, ok := owner[m.Sender]; ok && o != p {
				t.Fatalf("sender %d used by parts %d and %d", m.Sender, o, p)
			}
			owner[m.Sender] = p
		}
	}
	if len(owner) < 25 {
		t.Errorf("only %d of 30 senders used by the parts together", len(owner))
	}
	if firstIDs[0] == firstIDs[1] || firstIDs[1] == firstIDs[2] {
		t.Errorf("parts start with the same message id: %v", firstIDs)
	}
}
