package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/stack-tools/stack/load"
)

// recorder is a webhook target that remembers the message ids it received.
type recorder struct {
	mu   sync.Mutex
	sids []string
	code int
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	req.ParseForm()
	r.mu.Lock()
	r.sids = append(r.sids, req.PostForm.Get("MessageSid"))
	code := r.code
	r.mu.Unlock()
	if code != 0 {
		w.WriteHeader(code)
	}
}

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.sids
	r.sids = nil
	sort.Strings(out)
	return out
}

func TestLoadCommandReportsAndSeedReproduces(t *testing.T) {
	rec := &recorder{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	w := newWorkstation(t, t.TempDir())
	reports := t.TempDir()
	args := []string{"load", "--scenario", "sms-inbound", "--target", srv.URL + "/sms", "--rate", "300", "--requests", "150",
		"--seed", "5", "--senders", "3", "--report-dir", reports, "--output", "json"}
	r := w.must(args...)
	var rep load.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("--output json: %v\n%s", err, r.stdout)
	}
	if rep.Verdict != load.Passed || rep.Total.Sent != 150 || rep.Seed != 5 || len(rep.Types) != 7 {
		t.Errorf("report: verdict %s sent %d seed %d types %d", rep.Verdict, rep.Total.Sent, rep.Seed, len(rep.Types))
	}
	for _, f := range []string{"load-report.json", "load-report.html"} {
		if _, err := os.Stat(filepath.Join(reports, f)); err != nil {
			t.Errorf("report file: %v", err)
		}
	}
	first := rec.take()
	w.must(args...)
	if second := rec.take(); strings.Join(first, ",") != strings.Join(second, ",") || len(first) != 150 {
		t.Errorf("the same --seed sent different messages (%d then %d)", len(first), len(second))
	}
}

func TestLoadCommandExitCodes(t *testing.T) {
	rec := &recorder{code: http.StatusInternalServerError}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	w := newWorkstation(t, t.TempDir())
	r := w.run("load", "--scenario", "sms-inbound", "--target", srv.URL, "--rate", "100", "--duration", "20s",
		"--stop-success", "0.9", "--stop-votes", "2", "--stop-window", "200ms", "--report-dir", "")
	if r.code != 1 || !strings.Contains(r.stderr, "stopped by vote") {
		t.Errorf("failing target: exit %d, want 1 naming the vote\n%s", r.code, r.stderr)
	}
	for _, bad := range [][]string{
		{"load", "--scenario", "sms-inbound", "--rate", "10", "--duration", "1s"},
		{"load", "--scenario", "nope", "--target", srv.URL, "--rate", "10", "--duration", "1s"},
		{"load", "--scenario", "sms-inbound", "--target", srv.URL, "--rate", "10"},
		{"load", "--scenario", "sms-inbound", "--target", srv.URL, "--shape", "steps", "--start", "5", "--duration", "1s"},
	} {
		if r := w.run(bad...); r.code != 2 || !strings.Contains(r.stderr, "--") && !strings.Contains(r.stderr, "every") {
			t.Errorf("stack %s: exit %d, want 2 with a hint\n%s", strings.Join(bad, " "), r.code, r.stderr)
		}
	}
}
