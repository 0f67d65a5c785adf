package e2e

import (
	"context"
	"fmt"
	"sort"
	"time"
)

// Judge says why the run's e2e side is unhealthy now ("" when it is not):
// more lost than max_lost, a message of the current window arriving later
// than max_e2e_latency at the percentile, or the oldest message still
// expected older than that (less the probes' lag: an arrival not pulled yet
// is not late).
func (t *Tracker) Judge(now time.Time, percentile float64) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	oldest := t.advance(now)
	if m := t.cfg.MaxLost; m != nil && t.lostSoFar > uint64(*m) {
		return fmt.Sprintf("e2e: %d lost > max_lost %d", t.lostSoFar, *m)
	}
	bound := time.Duration(t.cfg.MaxE2ELatency)
	if bound == 0 {
		return ""
	}
	for i, a := range t.win {
		if a.arrived == 0 {
			continue
		}
		if p := time.Duration(a.hist.ValueAtQuantile(percentile)) * time.Microsecond; p > bound {
			return fmt.Sprintf("e2e p%g latency of %s %s > %s", percentile, t.setup.Types[i], p.Round(time.Millisecond), bound)
		}
	}
	if oldest != nil {
		lag := time.Duration(0)
		for _, s := range t.sources {
			lag = max(lag, now.Sub(s.lastOK))
		}
		if age := now.Sub(t.start) - time.Duration(oldest.start()) - lag; age > bound {
			return fmt.Sprintf("e2e: a %s message has not arrived after %s > %s", t.setup.Types[oldest.typ], age.Round(time.Millisecond), bound)
		}
	}
	return ""
}

// Finish waits for stragglers (until every expected arrival came, or Wait
// after sendEnd), pulls a last time and reports. A probe that no longer
// answers makes the report incomplete, never a silent count of lost.
// say, when set, hears how the wait goes, every few seconds.
func (t *Tracker) Finish(ctx context.Context, sendEnd time.Time, say func(string)) *Report {
	deadline := sendEnd.Add(time.Duration(t.cfg.Wait))
	tick := time.NewTicker(time.Duration(t.cfg.Poll))
	defer tick.Stop()
	var said time.Time
	for {
		now := time.Now()
		t.Poll(ctx, now)
		if t.complete() || now.After(deadline) || ctx.Err() != nil {
			break
		}
		if say != nil && now.Sub(said) >= 5*time.Second {
			said = now
			say(fmt.Sprintf("%s; waiting up to %s more", t.Status(), deadline.Sub(now).Round(time.Second)))
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
		}
	}
	// A probe that failed its last pull gets a few more chances.
	for try := 0; try < 3 && t.failing() != nil && ctx.Err() == nil; try++ {
		time.Sleep(time.Duration(t.cfg.Poll))
		t.Poll(ctx, time.Now())
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rotate(time.Now())
	rep := t.report()
	if s := t.failing(); s != nil {
		rep.Incomplete = fmt.Sprintf("probe %s (%s) stopped answering (last answer %s: %v): arrivals since are unknown, so lost counts would be guesses",
			s.Name, s.URL, s.lastOK.UTC().Format(time.RFC3339), s.err)
	}
	return rep
}

func (t *Tracker) failing() *source {
	for _, s := range t.sources {
		if s.err != nil {
			return s
		}
	}
	return nil
}

// complete says whether every message sent so far got its arrivals.
func (t *Tracker) complete() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for seq := uint64(0); seq < t.led.n; seq++ {
		r := &t.led.chunks[seq>>chunkBits][seq&(1<<chunkBits-1)]
		if r.flags&seen != 0 && r.arrived < t.expects(r) {
			return false
		}
	}
	return len(t.pending) == 0
}

// report sums the ledger up per type.
func (t *Tracker) report() *Report {
	rep := &Report{Wait: time.Duration(t.cfg.Wait).Seconds(), Windows: t.windows,
		Unexpected: t.unexpected, UnexpectedSamples: t.unexpSamp, Hist: &Hists{Types: map[string]string{}}}
	for _, s := range t.sources {
		ps := ProbeStats{Name: s.Name, URL: s.URL, Arrivals: s.arrivals, LastPull: s.lastOK.UTC()}
		if s.err != nil {
			ps.Error = s.err.Error()
		}
		rep.Probes = append(rep.Probes, ps)
	}
	stats := make([]Stats, len(t.setup.Types))
	for seq := uint64(0); seq < t.led.n; seq++ {
		r := &t.led.chunks[seq>>chunkBits][seq&(1<<chunkBits-1)]
		if r.flags&seen == 0 || r.flags&resend != 0 {
			continue
		}
		st := &stats[r.typ]
		if r.flags&refused != 0 {
			st.NotAccepted++
			continue
		}
		st.Messages++
		exp := t.expect[r.typ]
		st.Arrived += uint64(min(r.arrived, exp))
		t.perWindow(r, exp)
		if r.arrived < exp {
			st.Lost += uint64(exp - r.arrived)
			if len(st.LostIDs) < maxSamples {
				st.LostIDs = append(st.LostIDs, t.setup.Codec.RunID(t.setup.Part, seq))
			}
		}
		if r.arrived > exp {
			st.Duplicated += uint64(r.arrived - exp)
			if len(st.DupIDs) < maxSamples {
				st.DupIDs = append(st.DupIDs, t.setup.Codec.RunID(t.setup.Part, seq))
			}
		}
	}
	for range t.pending {
		if t.unexpected++; len(rep.UnexpectedSamples) < maxSamples {
			rep.UnexpectedSamples = append(rep.UnexpectedSamples, "an id of this run that was never sent")
		}
	}
	rep.Unexpected = t.unexpected
	total := newHist()
	var maxUs int64
	for i, name := range t.setup.Types {
		st := stats[i]
		st.Expect = int(t.expect[i])
		st.Latency = latencyOf(t.types[i].hist, t.types[i].maxUs)
		rep.Types = append(rep.Types, TypeStats{Name: name, Stats: st})
		rep.Hist.Types[name] = encode(t.types[i].hist)
		total.Merge(t.types[i].hist)
		maxUs = max(maxUs, t.types[i].maxUs)
		addStats(&rep.Total, st)
	}
	rep.Total.Latency = latencyOf(total, maxUs)
	return rep
}

// addStats adds the counts of s to sum (samples up to maxSamples).
func addStats(sum *Stats, s Stats) {
	sum.Messages += s.Messages
	sum.NotAccepted += s.NotAccepted
	sum.Arrived += s.Arrived
	sum.Lost += s.Lost
	sum.Duplicated += s.Duplicated
	sum.LostIDs = appendCapped(sum.LostIDs, s.LostIDs)
	sum.DupIDs = appendCapped(sum.DupIDs, s.DupIDs)
}

func appendCapped(dst, src []string) []string {
	for _, s := range src {
		if len(dst) >= maxSamples {
			break
		}
		dst = append(dst, s)
	}
	return dst
}

// perWindow counts a message's lost or extra arrivals in the window it was
// due in (the windows are closed by now, in order).
func (t *Tracker) perWindow(r *rec, exp uint8) {
	if r.arrived == exp || len(t.windows) == 0 {
		return
	}
	due := float64(r.intended) / 1e9
	i := sort.Search(len(t.windows), func(i int) bool { return t.windows[i].End > due })
	i = min(i, len(t.windows)-1)
	name := t.setup.Types[r.typ]
	ws := t.windows[i].Types[name]
	if r.arrived < exp {
		ws.Lost += uint64(exp - r.arrived)
	} else {
		ws.Duplicated += uint64(r.arrived - exp)
	}
	t.windows[i].Types[name] = ws
}

// Status is a short line on the far end so far.
func (t *Tracker) Status() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return fmt.Sprintf("e2e: arrived %d of %d expected", t.arrivedN, t.expectedN)
}
