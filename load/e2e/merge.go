package e2e

import (
	"errors"
	"fmt"
	"strings"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Merge combines the e2e sections of the shares of one fleet run (each
// tracked its own part's messages): counts add up, samples are joined,
// latencies come from the merged histograms, windows merge by index.
func Merge(parts []*Report) (*Report, error) {
	var in []*Report
	for _, p := range parts {
		if p != nil {
			if p.Hist == nil {
				return nil, errors.New("merge e2e: a share's report has no histograms")
			}
			in = append(in, p)
		}
	}
	if len(in) == 0 {
		return nil, nil
	}
	out := &Report{Wait: in[0].Wait, Hist: &Hists{Types: map[string]string{}}}
	var why []string
	for _, p := range in {
		out.Unexpected += p.Unexpected
		out.UnexpectedSamples = appendCapped(out.UnexpectedSamples, p.UnexpectedSamples)
		if p.Incomplete != "" {
			why = append(why, p.Incomplete)
		}
	}
	out.Incomplete = strings.Join(why, "; ")
	out.Probes = mergeProbes(in)
	total, maxUs := newHist(), int64(0)
	for i, t := range in[0].Types {
		h := newHist()
		var st Stats
		st.Expect = t.Expect
		for _, p := range in {
			if i >= len(p.Types) || p.Types[i].Name != t.Name {
				return nil, fmt.Errorf("merge e2e: the shares disagree on message type %d", i)
			}
			s := p.Types[i].Stats
			addStats(&st, s)
			st.Latency.Max = max(st.Latency.Max, s.Latency.Max)
			ph, err := decode(p.Hist.Types[t.Name])
			if err != nil {
				return nil, fmt.Errorf("merge e2e: %w", err)
			}
			h.Merge(ph)
		}
		st.Latency = withMax(h, st.Latency.Max)
		out.Types = append(out.Types, TypeStats{Name: t.Name, Stats: st})
		out.Hist.Types[t.Name] = encode(h)
		total.Merge(h)
		maxUs = max(maxUs, int64(st.Latency.Max*1e3))
		addStats(&out.Total, st)
	}
	out.Total.Latency = withMax(total, float64(maxUs)/1e3)
	var err error
	out.Windows, err = mergeWindows(in)
	return out, err
}

func withMax(h *hdrhistogram.Histogram, maxMs float64) Latency {
	l := latencyOf(h, 0)
	if h.TotalCount() > 0 {
		l.Max = maxMs
	}
	return l
}

// mergeProbes: every share pulled every probe, so counts are the same
// (take the largest); an error of any share is kept.
func mergeProbes(in []*Report) []ProbeStats {
	out := append([]ProbeStats(nil), in[0].Probes...)
	for _, p := range in[1:] {
		for i := range out {
			if i >= len(p.Probes) {
				break
			}
			q := p.Probes[i]
			out[i].Arrivals = max(out[i].Arrivals, q.Arrivals)
			if q.LastPull.Before(out[i].LastPull) {
				out[i].LastPull = q.LastPull
			}
			if out[i].Error == "" {
				out[i].Error = q.Error
			}
		}
	}
	return out
}

func mergeWindows(in []*Report) ([]Window, error) {
	n := 0
	for _, p := range in {
		n = max(n, len(p.Windows))
	}
	out := make([]Window, n)
	for i := range out {
		w := Window{Start: -1, Types: map[string]WindowStats{}}
		hists := map[string]*hdrhistogram.Histogram{}
		for _, p := range in {
			if i >= len(p.Windows) {
				continue
			}
			pw := p.Windows[i]
			if w.Start < 0 || pw.Start < w.Start {
				w.Start = pw.Start
			}
			w.End = max(w.End, pw.End)
			w.Unexpected += pw.Unexpected
			for name, s := range pw.Types {
				m := w.Types[name]
				m.Arrived += s.Arrived
				m.Lost += s.Lost
				m.Duplicated += s.Duplicated
				m.Latency.Max = max(m.Latency.Max, s.Latency.Max)
				w.Types[name] = m
				ph, err := decode(pw.Hist[name])
				if err != nil {
					return nil, fmt.Errorf("merge e2e: window %d: %w", i, err)
				}
				if hists[name] == nil {
					hists[name] = newHist()
				}
				hists[name].Merge(ph)
			}
		}
		w.Hist = map[string]string{}
		for name, h := range hists {
			m := w.Types[name]
			m.Latency = withMax(h, m.Latency.Max)
			w.Types[name] = m
			w.Hist[name] = encode(h)
		}
		out[i] = w
	}
	return out, nil
}
