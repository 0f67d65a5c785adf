package scenario_test

import (
	"bytes"
	"encoding/json"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stack-tools/stack/load/scenario"
	"github.com/stack-tools/stack/stacks/scenarios"
)

func builtin(t *testing.T, name string) *scenario.Scenario {
	t.Helper()
	sc, err := scenario.Resolve("", name, scenarios.Builtin())
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func generator(t *testing.T, name string, o scenario.Options) *scenario.Generator {
	t.Helper()
	g, err := scenario.NewGenerator(builtin(t, name), "http://127.0.0.1:9/hooks/sms", o)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestWeightsHoldOver20000Messages(t *testing.T) {
	sc := builtin(t, "sms-inbound")
	g := generator(t, "sms-inbound", scenario.Options{Seed: 7})
	total := 0.0
	for _, ty := range sc.Types {
		total += ty.Weight
	}
	counts := map[string]int{}
	var m scenario.Message
	const n = 20000
	for i := 0; i < n; i++ {
		if err := g.Next(&m); err != nil {
			t.Fatal(err)
		}
		counts[g.Types[m.Type].Name]++
	}
	for _, ty := range sc.Types {
		want := ty.Weight / total
		got := float64(counts[ty.Name]) / n
		if math.Abs(got-want) > 0.02 {
			t.Errorf("%s: share %.3f, want %.3f ± 0.02", ty.Name, got, want)
		}
	}
}

func TestGroupedOrderSendsRunsOfOneType(t *testing.T) {
	g := generator(t, "sms-inbound", scenario.Options{Seed: 1, Order: "grouped", Group: 700})
	var m scenario.Message
	var seq []string
	for i := 0; i < 700; i++ {
		g.Next(&m)
		seq = append(seq, g.Types[m.Type].Name)
	}
	// Grouped: each type appears in one contiguous run, with its weight's share.
	runs := map[string]int{}
	for i, name := range seq {
		if i == 0 || seq[i-1] != name {
			runs[name]++
		}
	}
	for name, r := range runs {
		if r != 1 {
			t.Errorf("grouped order: type %s appears in %d separate runs in one cycle, want 1", name, r)
		}
	}
	if len(runs) != 7 {
		t.Errorf("grouped cycle has %d types, want 7", len(runs))
	}
	got := 0
	for _, name := range seq {
		if name == "unrecognized" {
			got++
		}
	}
	if got != 245 { // 35% of 700
		t.Errorf("unrecognized in a 700-message cycle: %d, want 245", got)
	}

	// Random order interleaves types: the same seed gives far more runs.
	r := generator(t, "sms-inbound", scenario.Options{Seed: 1})
	changes := 0
	prev := -1
	for i := 0; i < 700; i++ {
		r.Next(&m)
		if m.Type != prev {
			changes++
		}
		prev = m.Type
	}
	if changes < 300 {
		t.Errorf("random order changed type only %d times in 700 messages", changes)
	}
}

func TestSkipRemovesTypes(t *testing.T) {
	g := generator(t, "sms-inbound", scenario.Options{Seed: 3, Skip: []string{"custom_keyword", "reaction"}})
	var m scenario.Message
	for i := 0; i < 2000; i++ {
		g.Next(&m)
		if n := g.Types[m.Type].Name; n == "custom_keyword" || n == "reaction" {
			t.Fatalf("skipped type %s was sent", n)
		}
	}
	_, err := scenario.NewGenerator(builtin(t, "sms-inbound"), "http://127.0.0.1:9", scenario.Options{Skip: []string{"nope"}})
	if err == nil || !strings.Contains(err.Error(), `no message type "nope"`) {
		t.Errorf("unknown skip type: err = %v", err)
	}
}

func TestReuseAndDuplicateShares(t *testing.T) {
	g := generator(t, "sms-inbound", scenario.Options{Seed: 11, Reuse: 0.5, Duplicate: 0.1})
	type last struct {
		id   string
		body []byte
	}
	prev := map[int]last{}
	kinds := map[scenario.Kind]int{}
	ids := map[string]int{}
	var m scenario.Message
	const n = 20000
	for i := 0; i < n; i++ {
		if err := g.Next(&m); err != nil {
			t.Fatal(err)
		}
		kinds[m.Kind]++
		p, had := prev[m.Type]
		switch m.Kind {
		case scenario.Duplicate:
			if m.ID != p.id || !bytes.Equal(m.Body, p.body) {
				t.Fatalf("duplicate #%d: id %s body differs from previous %s", i, m.ID, p.id)
			}
		case scenario.Reused:
			if m.ID == p.id {
				t.Fatalf("reused #%d kept the message id %s", i, m.ID)
			}
			if !bytes.Equal(bytes.ReplaceAll(m.Body, []byte(m.ID), []byte(p.id)), p.body) {
				t.Fatalf("reused #%d: body differs from the previous one beyond the message id", i)
			}
			if !strings.Contains(string(m.Body), "MessageSid="+m.ID) {
				t.Fatalf("reused #%d: fresh id not in body", i)
			}
		case scenario.Fresh:
			if had && bytes.Equal(m.Body, p.body) {
				t.Fatalf("fresh #%d repeats the previous body", i)
			}
		}
		if m.Kind != scenario.Duplicate {
			ids[m.ID]++
		}
		prev[m.Type] = last{m.ID, append([]byte(nil), m.Body...)}
	}
	for id, c := range ids {
		if c > 1 {
			t.Fatalf("message id %s used by %d non-duplicate messages", id, c)
		}
	}
	if got := float64(kinds[scenario.Duplicate]) / n; math.Abs(got-0.1) > 0.01 {
		t.Errorf("duplicate share %.3f, want 0.10", got)
	}
	if got := float64(kinds[scenario.Reused]) / n; math.Abs(got-0.5) > 0.02 {
		t.Errorf("reuse share %.3f, want 0.50", got)
	}
}

func TestSignatureMatchesVendorAlgorithmAfterReuse(t *testing.T) {
	g := generator(t, "sms-inbound", scenario.Options{Seed: 5, Reuse: 0.5, AuthToken: "tok"})
	var m scenario.Message
	for i := 0; i < 500; i++ {
		g.Next(&m)
		form, err := url.ParseQuery(string(m.Body))
		if err != nil {
			t.Fatal(err)
		}
		want := scenario.TwilioSignature("tok", g.Types[m.Type].URL.String(), form)
		if string(m.Sig) != want {
			t.Fatalf("message %d (%s): signature %s, vendor algorithm gives %s", i, m.Kind, m.Sig, want)
		}
	}
}

func TestSendersPoolIsStable(t *testing.T) {
	g := generator(t, "sms-inbound", scenario.Options{Seed: 2, Senders: 5})
	if len(g.Senders) != 5 {
		t.Fatalf("%d senders, want 5", len(g.Senders))
	}
	from := map[string]bool{}
	var m scenario.Message
	for i := 0; i < 1000; i++ {
		g.Next(&m)
		form, _ := url.ParseQuery(string(m.Body))
		f := form.Get("From")
		if f != g.Senders[m.Sender].Phone {
			t.Fatalf("message from %s, but its sender %d has phone %s", f, m.Sender, g.Senders[m.Sender].Phone)
		}
		from[f] = true
	}
	if len(from) != 5 {
		t.Errorf("1000 messages came from %d numbers, want the pool's 5", len(from))
	}
}

func TestSeedReproducesTheSequence(t *testing.T) {
	a := generator(t, "track-events", scenario.Options{Seed: 42})
	b := generator(t, "track-events", scenario.Options{Seed: 42})
	var ma, mb scenario.Message
	for i := 0; i < 200; i++ {
		a.Next(&ma)
		b.Next(&mb)
		// Timestamps ("now") differ by design; everything else must match.
		strip := func(s []byte) string { return stripTimestamps(string(s)) }
		if ma.ID != mb.ID || strip(ma.Body) != strip(mb.Body) {
			t.Fatalf("message %d differs with the same seed:\n%s\n%s", i, ma.Body, mb.Body)
		}
	}
}

// A seed must read back exactly from a report or a step's outputs (JSON
// numbers, float64 to their readers); a larger one is refused by name.
func TestSeedAboveTwoTo53IsRefused(t *testing.T) {
	if _, err := scenario.NewGenerator(builtin(t, "track-events"), "http://127.0.0.1:9/x", scenario.Options{Seed: 1<<53 + 1}); err == nil || !strings.Contains(err.Error(), "seed: at most 9007199254740992") {
		t.Fatalf("seed 2^53+1: %v", err)
	}
	g := generator(t, "track-events", scenario.Options{Seed: 1 << 53})
	if f := float64(g.Seed); uint64(f) != g.Seed {
		t.Fatalf("seed %d does not survive a float64", g.Seed)
	}
}

func stripTimestamps(s string) string {
	for {
		i := strings.Index(s, `"timestamp":"`)
		if i < 0 {
			return s
		}
		j := strings.IndexByte(s[i+13:], '"')
		s = s[:i] + s[i+13+j+1:]
	}
}

// The compiled fast path and text/template must produce the same bodies.
func TestFastPathMatchesTemplate(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("scenario.json", `{"name":"x","types":[
		{"name":"fast","weight":1,"body":"fast.tmpl"},
		{"name":"slow","weight":1,"body":"slow.tmpl"}]}`)
	body := `{"id":"{{ .MessageID }}","n":{{ number 1 9 }},"w":"{{ sentence 4 | jsonstr }}","p":"{{ .Sender.Phone | urlquery }}","c":"{{ .Company.ID }}"}`
	write("fast.tmpl", body)
	// The same body plus an {{if}}, which only the template engine runs.
	write("slow.tmpl", body+`{{ if .Sender }}{{ end }}`)
	sc, err := scenario.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	// Compare a fast-path body with a template-engine body made from the same state.
	g3, _ := scenario.NewGenerator(sc, "http://127.0.0.1:9", scenario.Options{Seed: 9, Skip: []string{"slow"}})
	g4, _ := scenario.NewGenerator(sc, "http://127.0.0.1:9", scenario.Options{Seed: 9, Skip: []string{"fast"}})
	var a, b scenario.Message
	for i := 0; i < 50; i++ {
		g3.Next(&a)
		g4.Next(&b)
		if string(a.Body) != string(b.Body) {
			t.Fatalf("fast path %s\ntemplate  %s", a.Body, b.Body)
		}
	}
}

func TestBadScenariosNameTheProblem(t *testing.T) {
	cases := map[string]struct{ json, want string }{
		"unknown field": {`{"name":"x","types":[{"name":"a","weight":1,"colour":1}]}`, `unknown field "colour"`},
		"no types":      {`{"name":"x","types":[]}`, `no message "types"`},
		"zero weight":   {`{"name":"x","types":[{"name":"a"}]}`, `"weight" must be > 0`},
		"missing body":  {`{"name":"x","types":[{"name":"a","weight":1,"body":"a.tmpl"}]}`, `body template "a.tmpl" not found`},
		"bad sign":      {`{"name":"x","sign":{"scheme":"rot13"},"types":[{"name":"a","weight":1}]}`, `unknown "scheme" "rot13"`},
	}
	for name, c := range cases {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "scenario.json"), []byte(c.json), 0o644)
		_, err := scenario.Load(dir)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "scenario.json") {
			t.Errorf("%s: err = %v, want it to name scenario.json and %q", name, err, c.want)
		}
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "scenario.json"), []byte(`{"name":"x","types":[{"name":"a","weight":1,"body":"a.tmpl"}]}`), 0o644)
	os.WriteFile(filepath.Join(dir, "a.tmpl"), []byte(`{{ nosuchfunc }}`), 0o644)
	if _, err := scenario.Load(dir); err == nil || !strings.Contains(err.Error(), "nosuchfunc") {
		t.Errorf("bad template: err = %v", err)
	}
	if _, err := scenario.Resolve(t.TempDir(), "no-such-scenario", scenarios.Builtin()); err == nil || !strings.Contains(err.Error(), "sms-inbound") {
		t.Errorf("unknown scenario: err = %v, want it to list the built-in ones", err)
	}
}

func BenchmarkNextSMS(b *testing.B) {
	sc, _ := scenario.Resolve("", "sms-inbound", scenarios.Builtin())
	g, _ := scenario.NewGenerator(sc, "http://127.0.0.1:9/hooks/sms", scenario.Options{Seed: 1})
	var m scenario.Message
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		g.Next(&m)
	}
}

func TestURLQueryFastPathMatchesNetURL(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "scenario.json"), []byte(`{"name":"q","vars":{"v":"a b&c=d/é~_.-+%"},"types":[{"name":"q","weight":1,"body":"q.tmpl"}]}`), 0o644)
	os.WriteFile(filepath.Join(dir, "q.tmpl"), []byte(`x={{ .Vars.v | urlquery }}`), 0o644)
	sc, err := scenario.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	g, _ := scenario.NewGenerator(sc, "http://127.0.0.1:9", scenario.Options{Seed: 1})
	var m scenario.Message
	g.Next(&m)
	if want := "x=" + url.QueryEscape("a b&c=d/é~_.-+%"); string(m.Body) != want {
		t.Errorf("body %s, want %s", m.Body, want)
	}
}

func TestBuiltinBodiesAreWellFormed(t *testing.T) {
	g := generator(t, "track-events", scenario.Options{Seed: 4, Reuse: 0.3})
	var m scenario.Message
	for i := 0; i < 2000; i++ {
		g.Next(&m)
		if !json.Valid(m.Body) {
			t.Fatalf("%s body is not JSON: %s", g.Types[m.Type].Name, m.Body)
		}
		if !strings.Contains(string(m.Body), `"messageId":"`+m.ID+`"`) {
			t.Fatalf("%s body lacks its messageId %s", g.Types[m.Type].Name, m.ID)
		}
	}
	s := generator(t, "sms-inbound", scenario.Options{Seed: 4})
	for i := 0; i < 2000; i++ {
		s.Next(&m)
		form, err := url.ParseQuery(string(m.Body))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{"From", "To", "Body", "MessageSid", "AccountSid"} {
			if form.Get(f) == "" {
				t.Fatalf("%s: form field %s missing in %s", s.Types[m.Type].Name, f, m.Body)
			}
		}
		if form.Get("MessageSid") != m.ID || !strings.HasPrefix(m.ID, "SM") || len(m.ID) != 34 {
			t.Fatalf("MessageSid %q, id %q: want SM + 32 hex digits", form.Get("MessageSid"), m.ID)
		}
	}
}

// The sized fake-data functions take a count from 0 to scenario.MaxCount: a
// body asking for more (or less) is refused before the run starts, naming
// the function and the count, whether the count is written in the body or
// computed as it renders.
func TestSizedFunctionsRefuseCountsOutOfRange(t *testing.T) {
	for _, c := range []struct{ body, want string }{
		{`{{ sentence 4000000000000000000 }}`, "sentence 4000000000000000000: the count must be 0 to 10000"},
		{`{{ digits -1 }}`, "digits -1"},
		{`{{ letters 10001 }}`, "letters 10001"},
		{`{{ if .Sender }}{{ hex 20000 }}{{ end }}`, "hex 20000"},
		{`{{ sentence 3 }} {{ digits 10000 }} {{ hex 0 }}`, ""},
	} {
		fsys := fstest.MapFS{
			scenario.FileName: {Data: []byte(`{"name":"sized","types":[{"name":"a","weight":1,"body":"a.tmpl"}]}`)},
			"a.tmpl":          {Data: []byte(c.body)},
		}
		sc, err := scenario.LoadFS(fsys, "sized")
		if err != nil {
			t.Fatalf("%s: %v", c.body, err)
		}
		g, err := scenario.NewGenerator(sc, "http://127.0.0.1:9/x", scenario.Options{Seed: 1, Senders: 1})
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.body, err)
		case c.want == "":
			var m scenario.Message
			if err := g.Next(&m); err != nil || len(m.Body) < 10000 {
				t.Errorf("%s: %d bytes, %v", c.body, len(m.Body), err)
			}
		case err == nil || !strings.Contains(err.Error(), c.want):
			t.Errorf("%s: error %v, want one saying %q", c.body, err, c.want)
		}
	}
}
