package load

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/stack-tools/stack/load/e2e"
)

// Histograms are a run's (or a window's) HDR histograms of latency in
// microseconds, V2-compressed and base64-encoded, overall and per type: what
// a worker of a fleet sends back so its share can be merged exactly.
type Histograms struct {
	Total string            `json:"total"`
	Types map[string]string `json:"types"`
}

func encodeHists(total *hdrhistogram.Histogram, names []string, types []*acc) *Histograms {
	h := &Histograms{Total: encodeHist(total), Types: make(map[string]string, len(names))}
	for i, name := range names {
		h.Types[name] = encodeHist(types[i].hist)
	}
	return h
}

func encodeHist(h *hdrhistogram.Histogram) string {
	b, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		return "" // cannot happen for a histogram made by newHist
	}
	return string(b)
}

func decodeHist(s string) (*hdrhistogram.Histogram, error) {
	if s == "" {
		return newHist(), nil
	}
	return hdrhistogram.Decode([]byte(s))
}

// WorkerShare is one process's share of a run split among several (a fleet).
type WorkerShare struct {
	// Part is the share's index (0-based) among Parts.
	Part  int    `json:"part"`
	Parts int    `json:"parts"`
	Name  string `json:"worker"`
	Host  string `json:"host,omitempty"`
	PID   int    `json:"pid,omitempty"`
	// Sent is what the share reported sending (for a missing share: what its
	// last progress said, if any).
	Sent    uint64 `json:"sent"`
	Verdict string `json:"verdict"`
	// Missing: the worker was lost and its results are not in the report.
	Missing bool   `json:"missing,omitempty"`
	Reason  string `json:"reason,omitempty"`
}

// Merge combines the reports of the shares of one split run (each made with
// Config.Histograms) into one report: counts add up, percentiles come from the
// merged histograms, windows are merged by index (the shares start together
// and use the same window length). Nil reports (missing shares) are skipped.
// Scenario, target, shape, seed, verdict and workers are for the caller to set.
func Merge(reports []*Report) (*Report, error) {
	var parts []*Report
	for _, r := range reports {
		if r == nil {
			continue
		}
		if r.Hist == nil {
			return nil, errors.New("merge: a share's report has no histograms")
		}
		parts = append(parts, r)
	}
	if len(parts) == 0 {
		return nil, errors.New("merge: no share reported")
	}
	first := parts[0]
	out := &Report{Started: first.Started, Finished: first.Finished, LateAfterMs: first.LateAfterMs,
		WindowSeconds: first.WindowSeconds, Stop: first.Stop}
	for _, r := range parts {
		if r.Started.Before(out.Started) {
			out.Started = r.Started
		}
		if r.Finished.After(out.Finished) {
			out.Finished = r.Finished
		}
		out.Seconds = max(out.Seconds, r.Seconds)
	}
	var err error
	total := make([]Stats, len(parts))
	totalH := make([]string, len(parts))
	for i, r := range parts {
		total[i], totalH[i] = r.Total, r.Hist.Total
	}
	if out.Total, err = mergeStats(total, totalH, out.Seconds); err != nil {
		return nil, err
	}
	for _, t := range first.Types {
		var st []Stats
		var hs []string
		for _, r := range parts {
			for _, rt := range r.Types {
				if rt.Name == t.Name {
					st = append(st, rt.Stats)
					hs = append(hs, r.Hist.Types[t.Name])
				}
			}
		}
		s, err := mergeStats(st, hs, out.Seconds)
		if err != nil {
			return nil, err
		}
		out.Types = append(out.Types, TypeStats{Name: t.Name, Stats: s})
	}
	var e2es []*e2e.Report
	for _, r := range parts {
		e2es = append(e2es, r.E2E)
	}
	if out.E2E, err = e2e.Merge(e2es); err != nil {
		return nil, err
	}
	n := 0
	for _, r := range parts {
		n = max(n, len(r.Windows))
	}
	for i := range n {
		var ws []Window
		for _, r := range parts {
			if i < len(r.Windows) {
				ws = append(ws, r.Windows[i])
			}
		}
		w, err := mergeWindows(ws)
		if err != nil {
			return nil, fmt.Errorf("merge: window %d: %w", i, err)
		}
		out.Windows = append(out.Windows, w)
	}
	return out, nil
}

func mergeStats(parts []Stats, hists []string, secs float64) (Stats, error) {
	s := Stats{Codes: map[string]uint64{}, ErrorTexts: map[string]uint64{}, Bodies: map[string]uint64{}}
	h := newHist()
	var sumMs float64
	for i, p := range parts {
		s.Sent += p.Sent
		s.Responses += p.Responses
		s.Success += p.Success
		s.Errors += p.Errors
		s.Late += p.Late
		s.MaxLagMs = max(s.MaxLagMs, p.MaxLagMs)
		s.BytesOut += p.BytesOut
		s.BytesIn += p.BytesIn
		for k, v := range p.Codes {
			s.Codes[k] += v
		}
		for k, v := range p.ErrorTexts {
			s.ErrorTexts[k] += v
		}
		for k, v := range p.Bodies {
			s.Bodies[k] += v
		}
		ph, err := decodeHist(hists[i])
		if err != nil {
			return s, fmt.Errorf("merge: decoding a histogram: %w", err)
		}
		h.Merge(ph)
		s.Latency.Max = max(s.Latency.Max, p.Latency.Max)
		sumMs += p.Latency.Mean * float64(ph.TotalCount())
	}
	s.SuccessRatio = ratio(s.Success, s.Responses+s.Errors)
	if secs > 0 {
		s.Rate = float64(s.Sent) / secs
		s.Throughput = float64(s.Success) / secs
	}
	s.Latency = mergedLatency(h, s.Latency.Max, sumMs)
	s.Distribution = distribution(h, s.Latency.Max)
	return s, nil
}

// mergedLatency takes percentiles from the merged histogram and the exact
// max and mean from the parts.
func mergedLatency(h *hdrhistogram.Histogram, maxMs, sumMs float64) Latency {
	l := latencyOf(h, 0, 0)
	if n := h.TotalCount(); n > 0 {
		l.Max, l.Mean = maxMs, sumMs/float64(n)
	}
	return l.capped()
}

func mergeWindows(ws []Window) (Window, error) {
	out := Window{Start: ws[0].Start, End: ws[0].End, Types: map[string]WindowStats{}}
	var why []string
	for _, w := range ws {
		out.Start = min(out.Start, w.Start)
		out.End = max(out.End, w.End)
		out.Votes = max(out.Votes, w.Votes)
		if w.Unhealthy != "" && !slices.Contains(why, w.Unhealthy) {
			why = append(why, w.Unhealthy)
		}
	}
	out.Unhealthy = strings.Join(why, "; ")
	merge := func(get func(Window) (WindowStats, string, bool)) (WindowStats, error) {
		var m WindowStats
		h := newHist()
		var sumMs float64
		for _, w := range ws {
			s, enc, ok := get(w)
			if !ok {
				continue
			}
			m.Sent += s.Sent
			m.Responses += s.Responses
			m.Success += s.Success
			m.Errors += s.Errors
			m.Late += s.Late
			// The shares ran side by side: their rates add up.
			m.Rate += s.Rate
			m.Throughput += s.Throughput
			ph, err := decodeHist(enc)
			if err != nil {
				return m, err
			}
			h.Merge(ph)
			m.Latency.Max = max(m.Latency.Max, s.Latency.Max)
			sumMs += s.Latency.Mean * float64(ph.TotalCount())
		}
		m.SuccessRatio = ratio(m.Success, m.Responses+m.Errors)
		m.Latency = mergedLatency(h, m.Latency.Max, sumMs)
		return m, nil
	}
	var err error
	out.Total, err = merge(func(w Window) (WindowStats, string, bool) {
		if w.Hist == nil {
			return w.Total, "", true
		}
		return w.Total, w.Hist.Total, true
	})
	if err != nil {
		return out, err
	}
	for _, w := range ws {
		for name := range w.Types {
			if _, done := out.Types[name]; done {
				continue
			}
			ts, err := merge(func(w Window) (WindowStats, string, bool) {
				s, ok := w.Types[name]
				if !ok {
					return s, "", false
				}
				if w.Hist == nil {
					return s, "", true
				}
				return s, w.Hist.Types[name], true
			})
			if err != nil {
				return out, err
			}
			out.Types[name] = ts
		}
	}
	return out, nil
}
