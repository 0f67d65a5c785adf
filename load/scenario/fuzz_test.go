package scenario_test

import (
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stack-tools/stack/load/scenario"
)

// FuzzTemplate loads arbitrary body templates (and scenario files) and renders
// messages from them. No input may panic; a rejected scenario says which file
// or field is wrong; and where the compiled fast path renders a body, the
// template engine renders the same bytes from the same state.
//
// Seeds: testdata/fuzz/FuzzTemplate plus the bodies below.
// Run longer with: go test ./load/scenario -run '^$' -fuzz FuzzTemplate -fuzztime 1m
func FuzzTemplate(f *testing.F) {
	spec := `{"name":"fz","types":[{"name":"fast","weight":1,"body":"fast.tmpl"},{"name":"slow","weight":1,"body":"slow.tmpl"}]}`
	for _, body := range []string{
		`{"id":"{{ .MessageID }}","n":{{ number 1 9 }},"w":"{{ sentence 4 | jsonstr }}","p":"{{ .Sender.Phone | urlquery }}","c":"{{ .Company.ID }}"}`,
		`From={{ .Sender.Phone | urlquery }}&Body={{ word }}`,
		`{{ .Type }} {{ .Seq }}`, `{{`, `{{ nosuch }}`, `{{ .Nope }}`, `{{ number 9 1 }}`, `{{ hex 0 }}`,
		`{{ template "fast.tmpl" . }}`, `plain text`, ``,
	} {
		f.Add(spec, body)
	}
	f.Add(`{"name":"x","types":[]}`, `x`)
	f.Add(`{"name":"x","types":[{"name":"a","weight":-1,"body":"fast.tmpl"}]}`, `x`)
	f.Add(`{"name":"x","message_id":{"format":"hex","length":4},"types":[{"name":"a","weight":1}]}`, `x`)
	f.Fuzz(func(t *testing.T, spec, body string) {
		fsys := fstest.MapFS{
			scenario.FileName: {Data: []byte(spec)},
			"fast.tmpl":       {Data: []byte(body)},
			// The same body behind an {{if}}, which only the template engine runs.
			"slow.tmpl": {Data: []byte(body + `{{ if .Sender }}{{ end }}`)},
		}
		sc, err := scenario.LoadFS(fsys, "fz")
		if err != nil {
			if !strings.Contains(err.Error(), "fz") {
				t.Fatalf("a rejected scenario does not say which: %v", err)
			}
			return
		}
		var fast, slow *scenario.Generator
		opts := func(skip string) scenario.Options {
			return scenario.Options{Seed: 7, Senders: 3, Skip: []string{skip}}
		}
		names := sc.TypeNames()
		differential := strings.Contains(spec, `"body":"fast.tmpl"`) && strings.Contains(spec, `"body":"slow.tmpl"`) &&
			strings.Join(names, ",") == "fast,slow"
		if differential {
			fast, _ = scenario.NewGenerator(sc, "http://127.0.0.1:9/x", opts(names[1]))
			slow, _ = scenario.NewGenerator(sc, "http://127.0.0.1:9/x", opts(names[0]))
		} else {
			fast, _ = scenario.NewGenerator(sc, "http://127.0.0.1:9/x", scenario.Options{Seed: 7, Senders: 3})
		}
		if fast == nil {
			return
		}
		var a, b scenario.Message
		for range 5 {
			errA := fast.Next(&a)
			if slow == nil {
				if errA != nil {
					return
				}
				continue
			}
			errB := slow.Next(&b)
			if (errA == nil) != (errB == nil) {
				t.Fatalf("fast path error %v, template engine error %v", errA, errB)
			}
			if errA != nil {
				return
			}
			if normalize(a.Body) != normalize(b.Body) {
				t.Fatalf("fast path %q\ntemplate  %q", a.Body, b.Body)
			}
		}
	})
}

var (
	pointer = regexp.MustCompile(`0x[0-9a-f]+`)
	now     = regexp.MustCompile(`\d{4}-\d\d-\d\dT[0-9:.]+Z`)
)

// normalize hides what may differ between the two types of FuzzTemplate: their
// names (.Type), the addresses {{ . }} prints, and the time {{ now }} prints.
func normalize(b []byte) string {
	s := strings.ReplaceAll(string(b), "slow", "fast")
	return now.ReplaceAllString(pointer.ReplaceAllString(s, "0x"), "NOW")
}
