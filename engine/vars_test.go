package engine_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stack-tools/stack/definition"
	"github.com/stack-tools/stack/engine"
	"github.com/stack-tools/stack/state"
)

func (h *harness) infos() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, ev := range h.events {
		if ev.Type == engine.EventInfo {
			out = append(out, ev.Message)
		}
	}
	h.events = nil
	return strings.Join(out, "\n")
}

// Values given at one up are kept by the next, changed when given again,
// forgotten when the definition drops the variable; a sensitive one is
// compared by digest and must be given each time.
func TestUpRemembersVariables(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, t.TempDir())
	echo, _ := filepath.Abs(filepath.Join("..", "testdata", "modules", "echo"))
	dir := t.TempDir()
	src := `{"name": "v", "variables": {"a": "da", "b": "db", "tok": "dt"}, "sensitive_variables": ["tok"],
	  "steps": [{"name": "s", "module": "` + echo + `", "vars": {"value": "${var.a}-${var.b}", "secret": "${var.tok}"}}]}`
	def := writeDef(t, dir, src)
	set := func(kv ...string) map[string]definition.VarSetting {
		out := map[string]definition.VarSetting{}
		for i := 0; i < len(kv); i += 2 {
			out[kv[i]] = definition.VarSetting{Value: kv[i+1], Origin: "--var"}
		}
		return out
	}
	up := func(vars map[string]definition.VarSetting) error {
		return h.e.Up(ctx, engine.UpOptions{Def: def, Vars: vars})
	}
	if err := up(set("a", "1", "tok", "secret-1")); err != nil {
		t.Fatal(err)
	}
	rec, _, _ := state.LoadRecord(ctx, h.store, "v")
	if rec.Vars["a"].Value != "1" || !rec.Vars["tok"].Sensitive || rec.Vars["tok"].Value != nil || rec.Vars["tok"].Digest == "" {
		t.Fatalf("record vars %+v", rec.Vars)
	}
	h.infos()
	if err := up(set("b", "2", "tok", "secret-1")); err != nil {
		t.Fatal(err)
	}
	if got := h.infos(); !strings.Contains(got, "keeping variables a=1,") || strings.Contains(got, "tok") {
		t.Errorf("second up said:\n%s", got)
	}
	if err := up(set("a", "3", "tok", "secret-2")); err != nil {
		t.Fatal(err)
	}
	got := h.infos()
	for _, want := range []string{"changing variable a from 1 to 3, as --var asks", "changing sensitive variable tok, as --var asks", "keeping variables b=2"} {
		if !strings.Contains(got, want) {
			t.Errorf("third up lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "secret-") {
		t.Errorf("a sensitive value was shown:\n%s", got)
	}
	if err := up(nil); err == nil || !definition.IsInvalid(err) || !strings.Contains(err.Error(), "STACK_VAR_tok") {
		t.Errorf("up without the sensitive value: %v", err)
	}
	def = writeDef(t, dir, strings.Replace(strings.Replace(src, `"b": "db", `, "", 1), "-${var.b}", "", 1))
	if err := up(set("tok", "secret-2")); err != nil {
		t.Fatal(err)
	}
	if got := h.infos(); !strings.Contains(got, "forgetting variable b") {
		t.Errorf("up without b said:\n%s", got)
	}
	rec, _, _ = state.LoadRecord(ctx, h.store, "v")
	if _, ok := rec.Vars["b"]; ok || rec.Vars["a"].Value != "3" {
		t.Errorf("record vars %+v", rec.Vars)
	}
}
