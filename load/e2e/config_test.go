package e2e_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stack-tools/stack/load"
	"github.com/stack-tools/stack/load/e2e"
	"github.com/stack-tools/stack/load/pace"
)

func TestBadE2EInputNamesTheField(t *testing.T) {
	sample := map[string]string{"id": "c5d362cf-75c7-4b8b-8000-000000000008", "sender.phone": "+15555550100"}
	good := e2e.Probe{URL: "http://127.0.0.1:9", Match: []e2e.Rule{{Header: "X-Ref"}}}
	for _, tc := range []struct {
		name string
		cfg  e2e.Config
		want string
	}{
		{"no probes", e2e.Config{}, "e2e.probes"},
		{"bad url", e2e.Config{Probes: []e2e.Probe{{URL: "ftp://x", Match: good.Match}}}, "e2e.probes[0].url"},
		{"no rules", e2e.Config{Probes: []e2e.Probe{{URL: good.URL}}}, "e2e.probes[0].match"},
		{"two fields", e2e.Config{Probes: []e2e.Probe{{URL: good.URL, Match: []e2e.Rule{{Header: "a", Form: "b"}}}}}, "e2e.probes[0].match[0]: give exactly one"},
		{"never matches", e2e.Config{Probes: []e2e.Probe{{URL: good.URL, Match: []e2e.Rule{{Header: "a"}, {Regexp: `id=(\d+)`}}}}}, "e2e.probes[0].match[1]: regexp"},
		{"bad pointer", e2e.Config{Probes: []e2e.Probe{{URL: good.URL, Match: []e2e.Rule{{JSON: "ref"}}}}}, "e2e.probes[0].match[0]: json"},
		{"bad by", e2e.Config{Probes: []e2e.Probe{{URL: good.URL, Match: []e2e.Rule{{Form: "From", By: "phone"}}}}}, "e2e.probes[0].match[0]: by"},
		{"phone regexp", e2e.Config{Probes: []e2e.Probe{{URL: good.URL, Match: []e2e.Rule{{Regexp: `to=([a-z]+)`, By: "sender.phone"}}}}}, "can never match"},
		{"unknown type", e2e.Config{Probes: []e2e.Probe{good}, Expect: map[string]int{"hook": 1, "nope": 1}}, `e2e.expect: the scenario has no message type "nope"`},
	} {
		err := tc.cfg.Check([]string{"hook", "mail"}, sample)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", tc.name, err, tc.want)
		}
	}
	ok := e2e.Config{Probes: []e2e.Probe{good, {Name: "b", URL: good.URL, Match: []e2e.Rule{{Regexp: `ref=(\S+)`}, {Form: "To", By: "sender.phone"}}}}}
	if err := ok.Check([]string{"hook"}, sample); err != nil {
		t.Errorf("a good config: %v", err)
	}
}

func TestUnreachableProbeFailsBeforeSending(t *testing.T) {
	l := listen(t)
	dead := "http://" + l.Addr().String()
	l.Close()
	cfg := hookOnly(t, "http://127.0.0.1:9/webhook", "dead", dead, 10)
	cfg.E2E.Wait = pace.Duration(0)
	_, err := load.Run(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "e2e.probes[0].url") {
		t.Fatalf("run with an unreachable probe: %v, want an error naming e2e.probes[0].url", err)
	}
}
