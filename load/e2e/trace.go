package e2e

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// TraceFile is the artifact (and report-dir file) that answers "where did my
// message go": one JSON line per message, gzipped.
const TraceFile = "load-trace.jsonl.gz"

// TraceHead is the trace's first line.
type TraceHead struct {
	Started time.Time `json:"started"`
	Wait    string    `json:"wait"`
	Probes  []string  `json:"probes"`
}

// TraceLine is one message: when it was due and sent, the target's answer,
// and each arrival.
type TraceLine struct {
	ID       string         `json:"id"`
	Type     string         `json:"type"`
	Resend   bool           `json:"resend,omitempty"`
	Intended time.Time      `json:"intended"`
	Sent     time.Time      `json:"sent"`
	Code     int            `json:"code"`
	Expect   int            `json:"expect"`
	Arrivals []TraceArrival `json:"arrivals,omitempty"`
}

// TraceArrival is one arrival of a message.
type TraceArrival struct {
	Probe     string    `json:"probe"`
	At        time.Time `json:"at"`
	LatencyMs float64   `json:"latency_ms"`
}

// WriteTrace writes every message of this part and its arrivals.
func (t *Tracker) WriteTrace(w io.Writer) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	zw := gzip.NewWriter(w)
	enc := json.NewEncoder(zw)
	head := TraceHead{Started: t.start.UTC(), Wait: time.Duration(t.cfg.Wait).String()}
	for _, s := range t.sources {
		head.Probes = append(head.Probes, s.Name)
	}
	if err := enc.Encode(head); err != nil {
		return err
	}
	hits := slices.Clone(t.hits)
	slices.SortStableFunc(hits, func(a, b hit) int { return cmpU(a.seq, b.seq) })
	h := 0
	for seq := uint64(0); seq < t.led.n; seq++ {
		r := t.led.get(seq)
		if r == nil {
			continue
		}
		intended := t.start.Add(time.Duration(r.intended))
		l := TraceLine{ID: t.setup.Codec.RunID(t.setup.Part, seq), Type: t.setup.Types[r.typ], Resend: r.flags&resend != 0,
			Intended: intended.UTC(), Sent: intended.Add(time.Duration(r.lagUs) * time.Microsecond).UTC(),
			Code: int(r.code), Expect: int(t.expects(r))}
		for ; h < len(hits) && hits[h].seq <= seq; h++ {
			if hits[h].seq < seq {
				continue
			}
			at := t.start.Add(time.Duration(hits[h].at))
			l.Arrivals = append(l.Arrivals, TraceArrival{Probe: t.sources[hits[h].probe].Name, At: at.UTC(),
				LatencyMs: float64(time.Duration(hits[h].at-r.start())) / 1e6})
		}
		if err := enc.Encode(l); err != nil {
			return err
		}
	}
	return zw.Close()
}

func cmpU(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// ErrNotTraced means the id is not in the trace.
var ErrNotTraced = errors.New("no message of this run has that id")

// Lookup finds id in a trace written by WriteTrace (several traces, one
// per worker of a fleet, may be concatenated).
func Lookup(r io.Reader, id string) (TraceHead, *TraceLine, error) {
	var head TraceHead
	zr, err := gzip.NewReader(r)
	if err != nil {
		return head, nil, fmt.Errorf("reading the trace: %w", err)
	}
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	want := `"id":"` + id + `"`
	for first := true; sc.Scan(); first = false {
		if first {
			if err := json.Unmarshal(sc.Bytes(), &head); err != nil {
				return head, nil, fmt.Errorf("reading the trace: %w", err)
			}
			continue
		}
		if !strings.Contains(sc.Text(), want) {
			continue
		}
		var l TraceLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return head, nil, fmt.Errorf("reading the trace: %w", err)
		}
		return head, &l, nil
	}
	if err := sc.Err(); err != nil {
		return head, nil, fmt.Errorf("reading the trace: %w", err)
	}
	return head, nil, ErrNotTraced
}

// ReadTrace reads every message line of a trace.
func ReadTrace(r io.Reader) ([]TraceLine, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("reading the trace: %w", err)
	}
	var out []TraceLine
	dec := json.NewDecoder(zr)
	for {
		var l TraceLine
		if err := dec.Decode(&l); errors.Is(err, io.EOF) {
			return out, nil
		} else if err != nil {
			return nil, fmt.Errorf("reading the trace: %w", err)
		}
		if l.ID != "" {
			out = append(out, l)
		}
	}
}
