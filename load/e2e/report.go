package e2e

import (
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Report is the e2e section of a load report.
type Report struct {
	Wait    float64      `json:"wait_seconds"`
	Probes  []ProbeStats `json:"probes"`
	Total   Stats        `json:"total"`
	Types   []TypeStats  `json:"types"`
	Windows []Window     `json:"windows"`
	// Unexpected arrivals matched no message of this run.
	Unexpected        uint64   `json:"unexpected"`
	UnexpectedSamples []string `json:"unexpected_samples,omitempty"`
	// Incomplete says why the counts cannot be trusted (a probe stopped answering).
	Incomplete string `json:"incomplete,omitempty"`
	// Hist holds the encoded histograms for merging a fleet's shares.
	Hist *Hists `json:"-"`
}

// ProbeStats say what one probe delivered.
type ProbeStats struct {
	Name     string `json:"name"`
	URL      string `json:"url"`
	Arrivals uint64 `json:"arrivals"`
	// LastPull is when it last answered; Error its last error, if any.
	LastPull time.Time `json:"last_pull"`
	Error    string    `json:"error,omitempty"`
}

// TypeStats are one message type's e2e results.
type TypeStats struct {
	Name string `json:"name"`
	Stats
}

// Stats count messages and arrivals. Latency runs from each message's
// intended send time to its arrival at a probe (milliseconds).
type Stats struct {
	// Expect is arrivals per message; Messages those the target accepted.
	Expect   int    `json:"expect"`
	Messages uint64 `json:"messages"`
	// NotAccepted messages failed at the front door and are expected nowhere.
	NotAccepted uint64 `json:"not_accepted,omitempty"`
	Arrived     uint64 `json:"arrived"`
	// Lost arrivals did not come within the wait; Duplicated came beyond expect.
	Lost       uint64   `json:"lost"`
	Duplicated uint64   `json:"duplicated"`
	LostIDs    []string `json:"lost_ids,omitempty"`
	DupIDs     []string `json:"duplicated_ids,omitempty"`
	Latency    Latency  `json:"latency_ms"`
}

// Latency percentiles in milliseconds.
type Latency struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p99_9"`
	Max  float64 `json:"max"`
}

// Window is one slice of the run: arrivals (and unexpected ones) count in
// the window they were pulled in, lost and duplicated in the window their
// message was due in.
type Window struct {
	Start      float64                `json:"start"`
	End        float64                `json:"end"`
	Types      map[string]WindowStats `json:"types"`
	Unexpected uint64                 `json:"unexpected,omitempty"`
	Hist       map[string]string      `json:"-"`
}

// WindowStats are one type's arrivals in a window, and the lost and
// duplicated arrivals of its messages due then.
type WindowStats struct {
	Arrived    uint64  `json:"arrived"`
	Lost       uint64  `json:"lost,omitempty"`
	Duplicated uint64  `json:"duplicated,omitempty"`
	Latency    Latency `json:"latency_ms"`
}

// Hists are a share's run histograms by type, encoded.
type Hists struct {
	Types map[string]string
}

const maxSamples = 50

const (
	histMin = 1
	histMax = int64(24 * time.Hour / time.Microsecond)
)

func newHist() *hdrhistogram.Histogram { return hdrhistogram.New(histMin, histMax, 3) }

func latencyOf(h *hdrhistogram.Histogram, maxUs int64) Latency {
	if h.TotalCount() == 0 {
		return Latency{}
	}
	p := h.ValueAtPercentiles([]float64{50, 90, 99, 99.9})
	ms := func(us int64) float64 { return float64(us) / 1e3 }
	return Latency{P50: ms(p[50]), P90: ms(p[90]), P99: ms(p[99]), P999: ms(p[99.9]), Max: ms(maxUs)}
}

func encode(h *hdrhistogram.Histogram) string {
	b, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		return ""
	}
	return string(b)
}

func decode(s string) (*hdrhistogram.Histogram, error) {
	if s == "" {
		return newHist(), nil
	}
	return hdrhistogram.Decode([]byte(s))
}
