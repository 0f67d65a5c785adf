package scenario

import (
	"strings"
	"testing"
)

func TestRunIDsRoundTripAndNeverCollide(t *testing.T) {
	for _, f := range []IDFormat{{}, {Prefix: "SM", Format: "hex", Length: 32}, {Format: "hex", Length: 40}} {
		c := IDCodec{Format: f, Run: NewRun()}
		other := IDCodec{Format: f, Run: NewRun()}
		seen := map[string]bool{}
		for part := range 3 {
			for _, seq := range []uint64{0, 1, 2, 1 << 20, maxSeq} {
				id := c.RunID(part, seq)
				if seen[id] {
					t.Fatalf("%+v: id %s twice", f, id)
				}
				seen[id] = true
				p, s, ok := c.Parse([]byte(id))
				if !ok || p != part || s != seq {
					t.Fatalf("%+v: %s parsed as (%d, %d, %v), want (%d, %d)", f, id, p, s, ok, part, seq)
				}
				if _, s, ok := c.Parse([]byte(f.Prefix + strings.ToUpper(id[len(f.Prefix):]))); !ok || s != seq {
					t.Fatalf("%+v: upper-cased %s not read back", f, id)
				}
				if _, _, ok := other.Parse([]byte(id)); ok {
					t.Fatalf("%+v: another run's codec claims %s", f, id)
				}
			}
		}
	}
}

func TestGeneratorWithRunIDs(t *testing.T) {
	sc := &Scenario{Name: "t", Types: []Type{{Name: "a", Weight: 1}}}
	if err := sc.check(); err != nil {
		t.Fatal(err)
	}
	run := NewRun()
	g, err := NewGenerator(sc, "http://127.0.0.1:1", Options{Seed: 1, Run: run, Part: 1, Parts: 2, Senders: 4})
	if err != nil {
		t.Fatal(err)
	}
	c := IDCodec{Format: sc.MessageID, Run: run}
	var m Message
	for i := range 3 {
		if err := g.Next(&m); err != nil {
			t.Fatal(err)
		}
		if p, s, ok := c.Parse([]byte(m.ID)); !ok || p != 1 || s != uint64(i) {
			t.Fatalf("message %d: id %s parsed as (%d, %d, %v)", i, m.ID, p, s, ok)
		}
	}
	sc.MessageID = IDFormat{Format: "hex", Length: 16}
	if _, err := NewGenerator(sc, "http://127.0.0.1:1", Options{Run: run}); err == nil || !strings.Contains(err.Error(), "32 hex digits") {
		t.Fatalf("16-digit ids with run ids: %v", err)
	}
}
