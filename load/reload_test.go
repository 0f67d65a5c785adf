package load_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stack-tools/stack/load"
	"github.com/stack-tools/stack/load/pace"
	"github.com/stack-tools/stack/load/scenario"
)

// Editing the templates of a running test changes the bodies it sends; a
// template that cannot render is refused, the run keeps the last good one and
// the log says why.
func TestReloadPicksUpEditedTemplatesAndKeepsTheLastGoodOne(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("scenario.json", `{"name": "reload", "types": [{"name": "sms", "weight": 1, "body": "sms.tmpl"}]}`)
	write("sms.tmpl", `version=1&id={{.MessageID}}`)

	var mu sync.Mutex
	seen := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		v, _, _ := strings.Cut(string(b), "&")
		mu.Lock()
		seen[v]++
		mu.Unlock()
	}))
	defer srv.Close()
	count := func(v string) int {
		mu.Lock()
		defer mu.Unlock()
		return seen[v]
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; bodies seen: %v", what, seen)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	var logMu sync.Mutex
	var log strings.Builder
	logged := func() string { logMu.Lock(); defer logMu.Unlock(); return log.String() }

	sc, err := scenario.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan *load.Report, 1)
	go func() {
		rep, err := load.Run(ctx, load.Config{Scenario: sc, Target: srv.URL, Rate: pace.Spec{Rate: 200}, Duration: 2 * time.Minute,
			Reload: &load.Reload{Every: 50 * time.Millisecond,
				Load: func(context.Context) (*scenario.Scenario, error) { return scenario.Load(dir) },
				Log: func(format string, args ...any) {
					logMu.Lock()
					fmt.Fprintf(&log, format+"\n", args...)
					logMu.Unlock()
				}}})
		if err != nil {
			t.Error(err)
		}
		done <- rep
	}()
	waitFor("version 1", func() bool { return count("version=1") > 0 })
	write("sms.tmpl", `version=2&id={{.MessageID}}`)
	waitFor("version 2", func() bool { return count("version=2") > 0 })
	// Parses, but fails when rendered: there is no var "nope".
	write("sms.tmpl", `version=3&id={{.MessageID}}&x={{.Vars.nope}}`)
	waitFor("the refusal in the log", func() bool { return strings.Contains(logged(), "nope") })
	before := count("version=2")
	waitFor("more version 2", func() bool { return count("version=2") > before+20 })
	cancel()
	<-done
	if n := count("version=3"); n > 0 {
		t.Errorf("%d bodies from the broken template were sent", n)
	}
	if !strings.Contains(logged(), "keeping the previous templates") {
		t.Errorf("the log does not say the run kept the old templates:\n%s", logged())
	}
}
