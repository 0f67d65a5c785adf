package generator

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stack-tools/stack/stack"
)

type memArtifacts struct{}

func (memArtifacts) PutArtifact(_ context.Context, name string, _ []byte) (string, error) {
	return "mem://" + name, nil
}

// A generator step with "targets_file" replays it once (or looping); a bad
// file stops validation with its lines.
func TestGeneratorStepReplaysATargetsFile(t *testing.T) {
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, r.Method+" "+r.URL.Path+" "+string(b))
		mu.Unlock()
	}))
	defer srv.Close()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "t.http"), []byte("POST "+srv.URL+"/a\n@b.txt\n\nGET "+srv.URL+"/b\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "b.txt"), []byte("body"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bad.http"), []byte("GET "+srv.URL+"/a\nGET nowhere\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	k := New()
	cfg := json.RawMessage(`{"targets_file": "t.http", "rate": 100}`)
	if err := k.ValidateIn(dir, cfg); err != nil {
		t.Fatal(err)
	}
	err := k.ValidateIn(dir, json.RawMessage(`{"targets_file": "bad.http", "rate": 100}`))
	if err == nil || !strings.Contains(err.Error(), "line 2: bad URL: nowhere") {
		t.Errorf("bad file: %v", err)
	}
	for c, want := range map[string]string{
		`{"targets_file": "t.http", "scenario": "sms-inbound", "rate": 1}`:                        "drop \"scenario\"",
		`{"targets_file": "t.http", "targets_loop": true, "rate": 1}`:                             "needs \"duration\"",
		`{"targets_loop": true, "scenario": "x", "target": "http://x", "rate": 1, "requests": 1}`: "needs \"targets_file\"",
	} {
		if err := k.Validate(json.RawMessage(c)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", c, err, want)
		}
	}
	run := &stack.StepRun{Dir: dir, Config: cfg, Log: io.Discard, Artifacts: memArtifacts{}, WorkDir: t.TempDir()}
	outs, err := k.Apply(context.Background(), run)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(got, "|") != "POST /a body|GET /b " && strings.Join(got, "|") != "GET /b |POST /a body" {
		t.Errorf("replayed %q", got)
	}
	if outs["sent"].Value != uint64(2) {
		t.Errorf("outputs %v", outs)
	}
}
