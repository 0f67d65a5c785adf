package main

import (
	"bytes"
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
