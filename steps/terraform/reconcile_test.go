package terraform

import (
	"io"
	"strings"
	"testing"
)

// The reconcile report says what the plan of an interrupted step found, and
// keeps Terraform's errors (with -json they are on stdout), so a held lock is
// recognised and cleared like anywhere else.
func TestPlanReport(t *testing.T) {
	p := &planReport{log: io.Discard}
	lines := `{"@message":"Plan: 1 to add","type":"planned_change","change":{"resource":{"addr":"terraform_data.r[1]"},"action":"create"}}
{"@message":"x","type":"planned_change","change":{"resource":{"addr":"terraform_data.r[0]"},"action":"replace","reason":"tainted"}}
{"@message":"x","type":"change_summary","changes":{"add":2,"change":0,"remove":1}}
{"@message":"Error acquiring the state lock","type":"diagnostic","diagnostic":{"severity":"error","summary":"Error acquiring the state lock","detail":"Lock Info:\n  ID:        0f7b1a2c-1111-2222-3333-444455556666\n  Who:       root@ws-a\n"}}`
	// Written in pieces that split lines, as a pipe may.
	for len(lines) > 0 {
		n := min(37, len(lines))
		_, _ = p.Write([]byte(lines[:n]))
		lines = lines[n:]
	}
	p.flush()
	got := p.summary()
	for _, want := range []string{"to add 2, change 0, destroy 1", "create terraform_data.r[1]", "replace terraform_data.r[0] (tainted)"} {
		if !strings.Contains(got, want) {
			t.Errorf("summary %q lacks %q", got, want)
		}
	}
	if len(p.diags) != 1 {
		t.Fatalf("diagnostics %q, want the lock's", p.diags)
	}
	if id, ok := heldLockID("Error acquiring the state lock: " + p.diags[0]); !ok || id != "0f7b1a2c-1111-2222-3333-444455556666" {
		t.Errorf("diagnostics %q: the lock ID is not recognisable", p.diags)
	}
	if who := lockHolder(p.diags[0]); who != "root@ws-a" {
		t.Errorf("lock holder not found in %q", p.diags)
	}
	if s := (&planReport{}).summary(); !strings.Contains(s, "nothing is missing") {
		t.Errorf("empty plan summary: %q", s)
	}
}
