package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stack-tools/stack/load/probe"
)

const pullBatch = 5000

// Loop pulls the probes every Poll until ctx ends.
func (t *Tracker) Loop(ctx context.Context) {
	tick := time.NewTicker(time.Duration(t.cfg.Poll))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			t.Poll(ctx, now)
		}
	}
}

// Poll pulls what each probe recorded since the last pull and matches it.
// Only one Poll runs at a time (Loop, then Finish).
func (t *Tracker) Poll(ctx context.Context, now time.Time) {
	for i, s := range t.sources {
		for {
			arrs, next, err := s.Pull(ctx, s.next, pullBatch)
			t.mu.Lock() // Judge reads err and lastOK
			if err != nil {
				s.err = err
				t.mu.Unlock()
				break
			}
			s.err, s.lastOK = nil, time.Now()
			for k := range arrs {
				t.absorb(i, &arrs[k])
			}
			s.arrivals += uint64(len(arrs))
			s.next = next
			t.mu.Unlock()
			if len(arrs) < pullBatch {
				break
			}
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.pending) > 0 {
		p := t.pending
		t.pending = nil
		for _, h := range p {
			t.match(h)
		}
	}
	if t.setup.Window > 0 && now.Sub(t.winStart) >= t.setup.Window {
		t.rotate(now)
	}
	t.advance(now)
}

// Absorb matches arrivals pulled from source i (exported for benchmarks).
func (t *Tracker) Absorb(i int, arrs []probe.Arrival) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k := range arrs {
		t.absorb(i, &arrs[k])
	}
}

func (t *Tracker) absorb(i int, a *probe.Arrival) {
	src := t.sources[i]
	p := parsed{a: a}
	at := int64(a.At.Sub(t.start))
	for r := range src.rules {
		rule := &src.rules[r]
		v := p.value(rule)
		if v == "" {
			continue
		}
		switch rule.by() {
		case "id":
			part, seq, ok := t.setup.Codec.Parse(trimID(v))
			switch {
			case !ok:
				t.unexpectedArrival(src, a, "id "+v+": not of this run")
			case part == t.setup.Part:
				t.match(hit{seq: seq, probe: uint16(i), at: at})
			}
		default:
			t.bySender(src, a, rule.By, v, i, at)
		}
		return
	}
	t.unexpectedArrival(src, a, "no rule found an id")
}

// bySender matches a reply to the latest message of its sender sent before
// it arrived that still expects arrivals: with a sender used once per window
// (the latency horizon), that is its message, and an earlier one the
// pipeline dropped stays lost.
func (t *Tracker) bySender(src *source, a *probe.Arrival, by, v string, i int, at int64) {
	idx, ok := t.byPhone[strings.TrimSpace(v)]
	if by == "sender.email" {
		idx, ok = t.byEmail[strings.ToLower(string(trimID(v)))]
	}
	if !ok {
		t.unexpectedArrival(src, a, by+" "+v+": no sender of this run")
		return
	}
	if idx < t.setup.SenderLo || idx >= t.setup.SenderHi {
		return // another part's sender
	}
	q := t.queues[uint32(idx)]
	if len(q) == 0 {
		t.unexpectedArrival(src, a, by+" "+v+": more replies than messages")
		return
	}
	seq := q[0]
	for k := len(q) - 1; k >= 0; k-- {
		if r := t.led.get(q[k]); r != nil && r.intended <= at {
			seq = q[k]
			break
		}
	}
	t.match(hit{seq: seq, probe: uint16(i), at: at})
}

func (t *Tracker) unexpectedArrival(src *source, a *probe.Arrival, why string) {
	if t.setup.Part != 0 {
		return // the first part counts what belongs to no part
	}
	t.unexpected++
	t.winUnexp++
	if len(t.unexpSamp) < maxSamples {
		t.unexpSamp = append(t.unexpSamp, fmt.Sprintf("%s #%d: %s", src.Name, a.N, why))
	}
}

// match counts one arrival of message h.seq; an arrival whose message's send
// is not in yet waits.
func (t *Tracker) match(h hit) {
	r := t.led.get(h.seq)
	if r == nil {
		t.pending = append(t.pending, h)
		return
	}
	if r.arrived < 255 {
		r.arrived++
	}
	t.hits = append(t.hits, h)
	exp := t.expects(r)
	if r.arrived > exp {
		return
	}
	t.arrivedN++
	us := (h.at - r.start()) / int64(time.Microsecond)
	t.types[r.typ].add(us)
	t.win[r.typ].add(us)
	if t.setup.Observe != nil {
		t.setup.Observe(int(r.typ), time.Duration(us)*time.Microsecond)
	}
	if r.arrived == exp && t.bySend {
		t.queues[r.sender] = slices.DeleteFunc(t.queues[r.sender], func(s uint64) bool { return s == h.seq })
	}
}

// rotate closes the current window.
func (t *Tracker) rotate(now time.Time) {
	w := Window{Start: t.winStart.Sub(t.start).Seconds(), End: now.Sub(t.start).Seconds(),
		Types: map[string]WindowStats{}, Unexpected: t.winUnexp, Hist: map[string]string{}}
	t.winUnexp = 0
	for i, name := range t.setup.Types {
		a := t.win[i]
		w.Types[name] = WindowStats{Arrived: a.arrived, Latency: latencyOf(a.hist, a.maxUs)}
		w.Hist[name] = encode(a.hist)
		a.hist.Reset()
		a.arrived, a.maxUs = 0, 0
	}
	t.windows = append(t.windows, w)
	t.winStart = now
}

// advance moves the cursor past complete messages, counting as lost those
// older than the wait (for max_lost while the run goes on).
func (t *Tracker) advance(now time.Time) *rec {
	wait := int64(t.cfg.Wait)
	age := int64(now.Sub(t.start))
	for t.cursor < t.led.n {
		r := &t.led.chunks[t.cursor>>chunkBits][t.cursor&(1<<chunkBits-1)]
		if r.flags&seen == 0 {
			return nil
		}
		exp := t.expects(r)
		switch {
		case r.arrived >= exp:
		case age-r.intended > wait:
			t.lostSoFar += uint64(exp - r.arrived)
		default:
			return r
		}
		t.cursor++
	}
	return nil
}
