package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stack-tools/stack/load"
	"github.com/stack-tools/stack/load/probe"
)

// replier is a pipeline: it answers the webhook, then posts "reply to ID"
// to the probe, except every fifth message, which it drops.
type replier struct {
	probe            string
	mu               sync.Mutex
	n                int
	dropped, replied []string
	wg               sync.WaitGroup
}

func (p *replier) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	id := r.PostForm.Get("MessageSid")
	p.mu.Lock()
	p.n++
	drop := p.n%5 == 0
	if drop {
		p.dropped = append(p.dropped, id)
	}
	p.mu.Unlock()
	w.WriteHeader(http.StatusOK)
	if drop {
		return
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		resp, err := http.Post(p.probe+"/outbound", "text/plain", bytes.NewBufferString("reply to "+id))
		if err == nil && resp.StatusCode == http.StatusOK {
			resp.Body.Close()
			p.mu.Lock()
			p.replied = append(p.replied, id)
			p.mu.Unlock()
		}
	}()
}

func TestLoadE2EThenTraceADeliveredAndADroppedMessage(t *testing.T) {
	w := newWorkstation(t, t.TempDir())
	dir := t.TempDir()
	pid := filepath.Join(dir, "probe.pid")
	url := strings.TrimSpace(w.must("dumpster", "--background", "--addr", "127.0.0.1:0", "--path", "/",
		"--url-file", filepath.Join(dir, "probe.url"), "--pid-file", pid, "--journal", filepath.Join(dir, "journal"), "--name", "sink").stdout)
	t.Cleanup(func() { w.run("dumpster", "--stop", "--pid-file", pid) })
	pipe := &replier{probe: strings.TrimSuffix(url, "/")}
	srv := httptest.NewServer(pipe)
	defer srv.Close()

	expect := map[string]int{}
	for _, typ := range []string{"subscribe", "unsubscribe", "help", "info", "unrecognized", "reaction", "custom_keyword"} {
		expect[typ] = 1
	}
	spec, _ := json.Marshal(map[string]any{"probes": []any{map[string]any{"name": "sink", "url": pipe.probe,
		"match": []any{map[string]string{"regexp": `reply to (SM[0-9a-f]+)`}}}}, "expect": expect, "wait": "5s", "poll": "100ms"})
	reports := t.TempDir()
	r := w.must("load", "--scenario", "sms-inbound", "--target", srv.URL, "--rate", "100", "--requests", "40",
		"--report-dir", reports, "--output", "json", "--e2e", string(spec))
	pipe.wg.Wait()
	var rep load.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || rep.E2E == nil {
		t.Fatalf("report: %v\n%s", err, r.stdout)
	}
	if rep.E2E.Total.Lost != uint64(len(pipe.dropped)) || len(pipe.dropped) != 8 {
		t.Fatalf("lost %d %v, the pipeline dropped %v", rep.E2E.Total.Lost, rep.E2E.Total.LostIDs, pipe.dropped)
	}
	got := w.must("trace", "--report-dir", reports, pipe.replied[0]).stdout
	if !strings.Contains(got, "arrived  at probe sink") || !strings.Contains(got, "answer   200") {
		t.Errorf("trace of a delivered message:\n%s", got)
	}
	got = w.must("trace", "--report-dir", reports, pipe.dropped[0]).stdout
	if !strings.Contains(got, "not arrived after 5s") || strings.Contains(got, "arrived  at") {
		t.Errorf("trace of a dropped message:\n%s", got)
	}
	if r := w.run("trace", "--report-dir", reports, "SM00000000000000000000000000000000"); r.code == 0 || !strings.Contains(r.stderr, "no message of this run") {
		t.Errorf("trace of an unknown id: exit %d\n%s", r.code, r.stderr)
	}
}

// A generator step with "e2e" stores its trace; `stack trace NAME STEP ID`
// reads it from the store.
func TestGeneratorStepE2EThenTraceFromTheStore(t *testing.T) {
	ctx := context.Background()
	j, err := probe.OpenJournal(filepath.Join(t.TempDir(), "journal"))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- probe.Serve(pctx, probe.Options{Name: "sink", Journal: j, HTTP: l}) }()
	defer func() { stop(); <-done }()
	pipe := &replier{probe: "http://" + l.Addr().String()}
	srv := httptest.NewServer(pipe)
	defer srv.Close()
	def := writeFile(t, filepath.Join(t.TempDir(), "gen.json"), `{"name": "gen", "steps": [
  {"name": "load", "kind": "generator", "scenario": "sms-inbound", "target": "`+srv.URL+`", "rate": 100, "requests": 20,
   "skip": ["subscribe", "unsubscribe", "info", "unrecognized", "reaction", "custom_keyword"],
   "e2e": {"probes": [{"name": "sink", "url": "`+pipe.probe+`", "match": [{"regexp": "reply to (SM[0-9a-f]+)"}]}],
           "expect": {"help": 1}, "wait": "3s", "poll": "100ms"}}]}`)
	te := newTestEnv(t)
	if err := runUp(ctx, &upOptions{runEnv: te.runEnv, File: def, lockOptions: lockOptions{Parallelism: 1}}); err != nil {
		t.Fatalf("up: %v\n%s", err, te.errOut)
	}
	pipe.wg.Wait()
	te.reset()
	if err := runTrace(ctx, &traceOptions{runEnv: te.runEnv, Name: "gen", Step: "load", ID: pipe.dropped[0]}); err != nil {
		t.Fatal(err)
	}
	if s := te.out.String(); !strings.Contains(s, "(help)") || !strings.Contains(s, "not arrived after 3s") {
		t.Errorf("trace of a dropped message:\n%s", s)
	}
	te.reset()
	if err := runTrace(ctx, &traceOptions{runEnv: te.runEnv, Name: "gen", Step: "load", ID: pipe.replied[0]}); err != nil {
		t.Fatal(err)
	}
	if s := te.out.String(); !strings.Contains(s, "arrived  at probe sink") {
		t.Errorf("trace of a delivered message:\n%s", s)
	}
	// The run's own copy, by its id (stack report lists them).
	e, err := te.Engine(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := e.Status(ctx, "gen")
	if err != nil {
		t.Fatal(err)
	}
	runID, _ := rec.Steps["load"].Outputs["run"].Value.(string)
	te.reset()
	if err := runTrace(ctx, &traceOptions{runEnv: te.runEnv, Name: "gen", Step: "load", Run: runID, ID: pipe.replied[0]}); err != nil || runID == "" {
		t.Fatalf("trace --run %q: %v", runID, err)
	}
	if s := te.out.String(); !strings.Contains(s, "arrived  at probe sink") {
		t.Errorf("trace --run of a delivered message:\n%s", s)
	}
}
