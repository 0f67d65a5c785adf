package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/stack-tools/stack/engine"
	"golang.org/x/term"
)

// progress shows engine events: a live table on a terminal, plain lines
// otherwise, JSON lines with --output json.
type progress struct {
	w    io.Writer
	mode string // live, plain, json
	// verbose: plain mode also prints progress lines (Terraform's, load windows).
	verbose bool
	mu      sync.Mutex
	start   time.Time
	rows    []*row
	byKey   map[string]*row
	drawn   int
	stop    chan struct{}
	done    chan struct{}
}

type row struct {
	step    string
	state   string
	msg     string
	note    string // what handlers reported: kept after the step finishes
	started time.Time
	elapsed time.Duration
}

func newProgress(w io.Writer, output string, verbose bool) *progress {
	p := &progress{w: w, mode: "plain", verbose: verbose, start: time.Now(), byKey: map[string]*row{}}
	if output == "json" {
		p.mode = "json"
	} else if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) && os.Getenv("TERM") != "dumb" {
		p.mode = "live"
		p.stop, p.done = make(chan struct{}), make(chan struct{})
		go p.loop()
	}
	return p
}

func (p *progress) event(ev engine.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch p.mode {
	case "json":
		enc := json.NewEncoder(p.w)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(ev)
		return
	case "plain":
		if ev.Output && !p.verbose {
			return // what the step's tool prints: in its log, and here with -v
		}
		fmt.Fprintf(p.w, "[%6.1fs] %s\n", time.Since(p.start).Seconds(), plainLine(ev))
		return
	}
	if ev.Step == "" {
		p.clear()
		fmt.Fprintln(p.w, ev.Message)
		p.draw()
		return
	}
	r := p.byKey[ev.Step]
	if r == nil {
		r = &row{step: ev.Step, started: time.Now()}
		p.byKey[ev.Step] = r
		p.rows = append(p.rows, r)
	}
	switch ev.Type {
	case engine.EventProgress:
		if r.state == "" {
			r.state, r.started = ev.Type, time.Now() // stack plan's steps start with progress
		}
		r.msg = ev.Message
	case engine.EventHandler:
		r.msg = ev.Message
		r.note = strings.TrimSpace(r.note + "; " + ev.Message)
		r.note = strings.TrimPrefix(r.note, "; ")
	case engine.EventStart, engine.EventDestroy:
		r.state, r.started, r.msg, r.note = ev.Type, time.Now(), "", ""
	case engine.EventApplied:
		r.state, r.msg, r.elapsed = ev.Type, r.note, ev.Elapsed
	case engine.EventInfo:
		// A step's result that is no transition of its own: stack plan's
		// verdict on it ("unchanged", "infrastructure drifted"), a note.
		if r.state == "" || r.state == engine.EventProgress {
			r.state, r.msg, r.elapsed = ev.Message, "", time.Since(r.started)
			return
		}
		r.msg = ev.Message
	default:
		r.state, r.msg, r.elapsed = ev.Type, ev.Message, ev.Elapsed
	}
}

func plainLine(ev engine.Event) string {
	var b strings.Builder
	if ev.Step != "" {
		b.WriteString(ev.Step)
		b.WriteString(": ")
	}
	b.WriteString(ev.Type)
	if ev.Message != "" && ev.Message != ev.Type {
		b.WriteString(" ")
		b.WriteString(ev.Message)
	}
	if ev.Elapsed > 0 {
		fmt.Fprintf(&b, " (%s)", ev.Elapsed.Round(10*time.Millisecond))
	}
	return b.String()
}

func (p *progress) loop() {
	defer close(p.done)
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			p.mu.Lock()
			p.clear()
			p.drawn = 0
			p.draw()
			p.drawn = 0
			p.mu.Unlock()
			return
		case <-t.C:
			p.mu.Lock()
			p.clear()
			p.draw()
			p.mu.Unlock()
		}
	}
}

func (p *progress) clear() {
	for i := 0; i < p.drawn; i++ {
		fmt.Fprint(p.w, "\033[1A\033[2K")
	}
	p.drawn = 0
}

func (p *progress) draw() {
	width := 100
	if f, ok := p.w.(*os.File); ok {
		if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 20 {
			width = w
		}
	}
	if len(p.rows) > 0 {
		fmt.Fprintln(p.w, tableHeader)
		p.drawn++
	}
	for _, r := range p.rows {
		el := r.elapsed
		if r.state == engine.EventStart || r.state == engine.EventDestroy || r.state == engine.EventProgress {
			el = time.Since(r.started)
		}
		line := tableRow(r.step, label(r.state), el, r.msg)
		if len(line) > width-1 {
			line = line[:width-1]
		}
		fmt.Fprintln(p.w, line)
		p.drawn++
	}
}

// The live table: a header, then one row per step.
var tableHeader = fmt.Sprintf("%-20s %-10s %8s  %s", "STEP", "STATUS", "TIME", "NOW")

func tableRow(step, status string, el time.Duration, msg string) string {
	return fmt.Sprintf("%-20s %-10s %7.1fs  %s", step, status, el.Seconds(), msg)
}

func label(state string) string {
	switch state {
	case engine.EventStart:
		return "applying"
	case engine.EventDestroy:
		return "destroying"
	case engine.EventProgress:
		return "running"
	}
	return state
}

func (p *progress) close() {
	if p.mode == "live" {
		close(p.stop)
		<-p.done
	}
}
