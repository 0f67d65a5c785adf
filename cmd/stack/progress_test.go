package main

import (
	"bytes"
	"context"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stack-tools/stack/engine"
)

// liveTable is the live progress display drawing into a buffer, as it does
// on a terminal.
func liveTable() (*progress, *bytes.Buffer) {
	var b bytes.Buffer
	return &progress{w: &b, mode: "live", start: time.Now(), byKey: map[string]*row{}}, &b
}

// frame draws the table once and returns it.
func frame(p *progress, b *bytes.Buffer) string {
	b.Reset()
	p.drawn = 0
	p.draw()
	return b.String()
}

func TestLiveTableHasAHeader(t *testing.T) {
	p, b := liveTable()
	p.event(engine.Event{Step: "network", Type: engine.EventStart, Message: "terraform"})
	lines := strings.Split(strings.TrimSpace(frame(p, b)), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "STEP ") || !strings.Contains(lines[0], "STATUS") || !strings.Contains(lines[0], "TIME") {
		t.Fatalf("want a header over the step's row:\n%s", b)
	}
	if !strings.HasPrefix(lines[1], "network") || !strings.Contains(lines[1], "applying") {
		t.Errorf("row: %q", lines[1])
	}
	// The header's columns sit over the row's.
	if strings.Index(lines[0], "STATUS") != strings.Index(lines[1], "applying") {
		t.Errorf("STATUS is not over the status:\n%s", b)
	}
}

// stack plan's steps show their verdict as their status, not "info".
func TestLiveTablePlanStatuses(t *testing.T) {
	p, b := liveTable()
	p.event(engine.Event{Step: "web", Type: engine.EventProgress, Message: "planning"})
	if f := frame(p, b); !strings.Contains(f, "running") || !strings.Contains(f, "planning") {
		t.Errorf("a step being planned:\n%s", f)
	}
	p.event(engine.Event{Step: "web", Type: engine.EventInfo, Message: engine.DriftInfrastructure})
	p.event(engine.Event{Step: "db", Type: engine.EventProgress, Message: "planning"})
	p.event(engine.Event{Step: "db", Type: engine.EventInfo, Message: engine.DriftUnchanged})
	f := frame(p, b)
	if strings.Contains(f, "info") {
		t.Errorf("plan's table shows info as a status:\n%s", f)
	}
	for _, want := range []string{"web                  infrastructure drifted", "db                   unchanged"} {
		if !strings.Contains(f, want) {
			t.Errorf("plan's table lacks %q:\n%s", want, f)
		}
	}
}

// The load step's row shows each window as it comes.
func TestLiveTableLoadRowFollowsEveryWindow(t *testing.T) {
	p, b := liveTable()
	p.event(engine.Event{Step: "load", Type: engine.EventStart, Message: "generator"})
	for _, w := range []string{"1.0s window 50/s", "2.0s window 100/s", "3.0s window 150/s"} {
		p.event(engine.Event{Step: "load", Type: engine.EventProgress, Message: w, Output: true})
		if f := frame(p, b); !strings.Contains(f, w) {
			t.Errorf("the load row does not show %q:\n%s", w, f)
		}
	}
}

// Without a terminal, plain lines show each step's transitions; the tool's
// own lines (Terraform's) only with -v.
func TestPlainProgressShowsToolLinesOnlyWhenVerbose(t *testing.T) {
	events := []engine.Event{
		{Step: "network", Type: engine.EventStart, Message: "terraform"},
		{Step: "network", Type: engine.EventProgress, Message: "terraform apply"},
		{Step: "network", Type: engine.EventProgress, Message: "Initializing provider plugins...", Output: true},
		{Step: "network", Type: engine.EventApplied, Elapsed: time.Second},
	}
	for _, verbose := range []bool{false, true} {
		var b bytes.Buffer
		p := newProgress(&b, "text", verbose)
		for _, ev := range events {
			p.event(ev)
		}
		p.close()
		out := b.String()
		for _, want := range []string{"network: start terraform", "network: progress terraform apply", "network: applied (1s)"} {
			if !strings.Contains(out, want) {
				t.Errorf("verbose=%v: plain output lacks %q:\n%s", verbose, want, out)
			}
		}
		if got := strings.Contains(out, "Initializing provider plugins"); got != verbose {
			t.Errorf("verbose=%v: Terraform's own line shown=%v:\n%s", verbose, got, out)
		}
	}
}

// A load step reports every window: its row follows the run, and plain
// output shows the windows with -v only.
func TestLoadStepReportsEveryWindow(t *testing.T) {
	srv := httptest.NewServer(&recorder{})
	defer srv.Close()
	def := writeFile(t, filepath.Join(t.TempDir(), "win.json"), `{"name": "win", "steps": [
  {"name": "load", "kind": "generator", "scenario": "sms-inbound", "target": "`+srv.URL+`", "rate": 100, "requests": 250, "window": "500ms"}]}`)
	for _, verbose := range []bool{true, false} {
		te := newTestEnv(t)
		te.Verbose = verbose
		if err := runUp(context.Background(), &upOptions{runEnv: te.runEnv, File: def, lockOptions: lockOptions{Parallelism: 4}}); err != nil {
			t.Fatalf("up: %v\n%s", err, te.errOut)
		}
		windows := strings.Count(te.progress.String(), "load: progress ") - strings.Count(te.progress.String(), "load: progress terraform")
		switch {
		case verbose && windows < 4: // 2.5 s of schedule in windows of 0.5 s
			t.Errorf("-v: %d window lines, want one per window:\n%s", windows, te.progress)
		case !verbose && windows != 0:
			t.Errorf("without -v: %d window lines, want none:\n%s", windows, te.progress)
		}
	}
}
