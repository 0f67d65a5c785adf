package generator_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stack-tools/stack/internal/testenv"
	"github.com/stack-tools/stack/state"

	"github.com/stack-tools/stack/steps/generator"
)

var stackBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "stack-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	stackBin = filepath.Join(dir, "stack")
	if out, err := exec.Command("go", "build", "-o", stackBin, "../../cmd/stack").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building stack: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

type result struct {
	code           int
	stdout, stderr string
}

// stackCmd runs the stack binary with a private state dir and HOME.
func stackCmd(t *testing.T, stateDir, dir string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := exec.CommandContext(ctx, stackBin, args...)
	c.Dir = dir
	home := filepath.Join(stateDir, "..", "home")
	c.Env = append(os.Environ(), "STACK_STATE="+stateDir, "HOME="+home, "XDG_CACHE_HOME="+filepath.Join(home, ".cache"))
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	err := c.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, out.String(), errb.String()}
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, _ := json.MarshalIndent(v, "", "  ")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestValidateNamesTheField(t *testing.T) {
	k := generator.New()
	cases := map[string]struct{ cfg, want string }{
		"unknown field":  {`{"scenario":"sms-inbound","target":"http://x","rate":1,"duration":"1s","colour":1}`, `unknown field "colour"`},
		"no scenario":    {`{"target":"http://x","rate":1,"duration":"1s"}`, `"scenario" is required`},
		"no target":      {`{"scenario":"sms-inbound","rate":1,"duration":"1s"}`, `"target" is required`},
		"bad target":     {`{"scenario":"sms-inbound","target":"ftp://x","rate":1,"duration":"1s"}`, `http:// or https://`},
		"no rate":        {`{"scenario":"sms-inbound","target":"http://x","duration":"1s"}`, `"rate" is required`},
		"unbounded":      {`{"scenario":"sms-inbound","target":"http://x","rate":1}`, `"duration"`},
		"bad shape":      {`{"scenario":"sms-inbound","target":"http://x","rate":{"shape":"zigzag"},"duration":"1s"}`, `unknown shape "zigzag"`},
		"steps no every": {`{"scenario":"sms-inbound","target":"http://x","rate":{"shape":"steps","start":5,"step":5},"duration":"1s"}`, `"every"`},
		"bad duration":   {`{"scenario":"sms-inbound","target":"http://x","rate":1,"duration":"soon"}`, `duration such as`},
		"shares":         {`{"scenario":"sms-inbound","target":"http://x","rate":1,"duration":"1s","reuse":0.8,"duplicate":0.3}`, `together at most 1`},
		"bad order":      {`{"scenario":"sms-inbound","target":"http://x","rate":1,"duration":"1s","order":"sorted"}`, `"order" "sorted"`},
		"bad stop":       {`{"scenario":"sms-inbound","target":"http://x","rate":1,"duration":"1s","stop":{"votes":3}}`, `min_success`},
		"seed over 2^53": {`{"scenario":"sms-inbound","target":"http://x","rate":1,"duration":"1s","seed":9007199254740993}`, `"seed" 9007199254740993: at most 9007199254740992`},
	}
	for name, c := range cases {
		err := k.Validate(json.RawMessage(c.cfg))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to mention %s", name, err, c.want)
		}
	}
	ok := `{"scenario":"sms-inbound","target":"${steps.web.outputs.webhook_url}","rate":{"shape":"steps","start":50,"step":50,"every":"5m","max":250},"duration":"20m","stop":{"min_success":0.98,"max_latency":"250ms"}}`
	if err := k.Validate(json.RawMessage(ok)); err != nil {
		t.Errorf("valid config rejected: %v", err)
	}
	refs := `{"scenario":"${var.scenario}","target":"${steps.web.outputs.webhook_url}","rate":"${var.rate}","duration":"${var.duration}","auth_token":"${var.token}"}`
	if err := k.Validate(json.RawMessage(refs)); err != nil {
		t.Errorf("references must wait for apply, got: %v", err)
	}
	if err := k.Validate(json.RawMessage(`{"scenario":"sms-inbound","target":"${x}","rate":"${var.rate}","duration":"1s","reuse":2}`)); err == nil {
		t.Error("literal fields next to references must still be checked")
	}
	if k.NeedsModule() {
		t.Error("a generator step needs no module")
	}
}

func terraformOrSkip(t *testing.T) {
	t.Helper()
	if _, err := testenv.FindBinary("terraform", "STACK_TERRAFORM"); err != nil {
		if _, err2 := os.Stat("/usr/local/bin/terraform"); err2 != nil {
			testenv.Missing(t, err)
		}
	}
}

// A stack starts the local webhook sink, drives load at it, stores the reports
// with the stack; down stops the sink.
func TestUpDrivesLoadAtTheDumpsterAndDownStopsIt(t *testing.T) {
	terraformOrSkip(t)
	work := t.TempDir()
	stateDir := filepath.Join(work, "state")
	def := map[string]any{
		"name": "loadtest",
		"steps": []any{
			// The module's default state folder survives the engine refreshing the
			// working copy between up and down.
			map[string]any{"name": "sink", "module": filepath.Join(repoRoot(), "modules/local/webhook_dumpster")},
			map[string]any{"name": "load", "kind": "generator", "scenario": "sms-inbound",
				"target": "${steps.sink.outputs.webhook_url}", "rate": 200, "duration": "1s", "senders": 10,
				"stop": map[string]any{"min_success": 0.99, "max_latency": "500ms"}},
		},
	}
	writeJSON(t, filepath.Join(work, "loadtest.json"), def)
	if r := stackCmd(t, stateDir, work, "up", "loadtest.json"); r.code != 0 {
		t.Fatalf("up: exit %d\n%s", r.code, r.stderr)
	}
	r := stackCmd(t, stateDir, work, "status", "loadtest", "--output", "json")
	var rec state.Record
	if err := json.Unmarshal([]byte(r.stdout), &rec); err != nil {
		t.Fatalf("status: %v\n%s", err, r.stdout)
	}
	out := rec.Steps["load"].Outputs
	if out["verdict"].Value != "passed" || out["sent"].Value != float64(200) {
		t.Errorf("load outputs: %+v", out)
	}
	url, _ := rec.Steps["sink"].Outputs["webhook_url"].Value.(string)
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("sink webhook_url = %q", url)
	}
	html, _ := out["report_html"].Value.(string)
	page, err := os.ReadFile(html)
	if err != nil || !bytes.Contains(page, []byte("<svg")) || !bytes.Contains(page, []byte("custom_keyword")) {
		t.Errorf("HTML report %s: %v (want charts per type)", html, err)
	}
	if bytes.Contains(page, []byte("<script")) {
		t.Error("HTML report is not self-contained: it has scripts")
	}
	if resp, err := http.Post(url, "text/plain", strings.NewReader("x")); err != nil || resp.StatusCode != 200 {
		t.Fatalf("sink not answering after up: %v", err)
	}
	if r := stackCmd(t, stateDir, work, "down", "loadtest"); r.code != 0 {
		t.Fatalf("down: exit %d\n%s", r.code, r.stderr)
	}
	if _, err := http.Post(url, "text/plain", strings.NewReader("x")); err == nil {
		t.Error("the sink still answers after down")
	}
}

// A target that fails makes the step fail by vote, and up exits 1; the
// scenario folder is found relative to the definition.
func TestStoppedLoadFailsUp(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	work := t.TempDir()
	scen := filepath.Join(work, "scenarios", "ping")
	os.MkdirAll(scen, 0o755)
	os.WriteFile(filepath.Join(scen, "scenario.json"), []byte(`{"name":"ping","types":[{"name":"ping","weight":1,"body":"ping.tmpl"}]}`), 0o644)
	os.WriteFile(filepath.Join(scen, "ping.tmpl"), []byte(`{"id":"{{ .MessageID }}"}`), 0o644)
	writeJSON(t, filepath.Join(work, "fail.json"), map[string]any{
		"name": "fail",
		"steps": []any{map[string]any{"name": "load", "kind": "generator", "scenario": "scenarios/ping",
			"target": srv.URL, "rate": 100, "duration": "20s",
			"stop": map[string]any{"min_success": 0.9, "votes": 2, "window": "200ms"}}},
	})
	began := time.Now()
	r := stackCmd(t, t.TempDir(), work, "up", "fail.json")
	if r.code != 1 || !strings.Contains(r.stderr, "stopped by vote") {
		t.Errorf("up: exit %d, want 1 with the vote's reason\n%s", r.code, r.stderr)
	}
	// Without the vote the schedule alone takes 20 s; the vote ends it after
	// two 0.2 s windows, so anything shorter than the schedule shows it worked.
	if took := time.Since(began); took >= 20*time.Second {
		t.Errorf("up took %s: the vote did not cut the 20s run short", took)
	}
}

// A scenario that does not exist is caught by validation, before anything runs.
func TestValidateInChecksTheScenarioFolder(t *testing.T) {
	k := generator.New()
	dir := t.TempDir()
	cfg := func(sc string) json.RawMessage {
		return json.RawMessage(`{"scenario":"` + sc + `","target":"http://127.0.0.1:1/x","rate":{"shape":"constant","rate":10},"duration":"1s"}`)
	}
	if err := k.ValidateIn(dir, cfg("sms-inbound")); err != nil {
		t.Errorf("built-in scenario: %v", err)
	}
	err := k.ValidateIn(dir, cfg("scenarios/missing"))
	if err == nil || !strings.Contains(err.Error(), "scenarios/missing") || !strings.Contains(err.Error(), "built-in") {
		t.Errorf("missing scenario: %v", err)
	}
}

// Validation knows the scenario: an e2e rule that can never match one of its
// ids, or an expect naming a type it lacks, fails before anything runs; a
// probe URL given as a reference waits for its value.
func TestValidateInChecksE2EAgainstTheScenario(t *testing.T) {
	k := generator.New()
	cfg := func(e2e string) json.RawMessage {
		return json.RawMessage(`{"scenario":"sms-inbound","target":"http://127.0.0.1:1/x","rate":10,"duration":"1s","e2e":` + e2e + `}`)
	}
	for _, tc := range []struct{ e2e, want string }{
		{`{"probes":[{"url":"${steps.sink.outputs.probe_url}","match":[{"regexp":"ref=(SM[0-9a-f]{32})"}]}],"expect":{"help":1}}`, ""},
		{`{"probes":[{"url":"http://127.0.0.1:9","match":[{"regexp":"id=(\\d+)"}]}]}`, "e2e.probes[0].match[0]: regexp"},
		{`{"probes":[{"url":"http://127.0.0.1:9","match":[{"form":"InReplyTo"}]}],"expect":{"helpp":1}}`, `no message type "helpp"`},
	} {
		err := k.ValidateIn(t.TempDir(), cfg(tc.e2e))
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("e2e %s: %v, want %q", tc.e2e, err, tc.want)
		}
	}
}
