package e2e

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/stack-tools/stack/load/probe"
	"github.com/stack-tools/stack/load/scenario"
)

// Sent is what the tracker learns of one message once its send is done.
type Sent struct {
	Seq      uint64
	Type     int
	Intended time.Duration // since the run's start
	Lag      time.Duration // actual send - intended
	Code     int           // 0 when the request failed
	Resend   bool          // a duplicate: it carries an earlier message's id
	Sender   int
}

// Setup is what a tracker needs of the run besides its Config.
type Setup struct {
	Types   []string // message types, in the generator's order
	Codec   scenario.IDCodec
	Part    int
	Senders []scenario.Sender // the whole pool (every part builds the same)
	// SenderLo and SenderHi bound this part's slice of Senders.
	SenderLo, SenderHi int
	Window             time.Duration
	// Observe, when set, sees each matched arrival's latency (live metrics).
	Observe func(typ int, latency time.Duration)
}

// Tracker matches one part's messages with what the probes report.
type Tracker struct {
	cfg     Config
	setup   Setup
	sources []*source
	expect  []uint8
	byPhone map[string]int
	byEmail map[string]int
	bySend  bool // some rule correlates by sender

	mu         sync.Mutex
	start      time.Time
	led        ledger
	pending    []hit
	hits       []hit
	queues     map[uint32][]uint64 // by sender: messages still expecting arrivals
	unexpected uint64
	winUnexp   uint64 // unexpected arrivals in the current window
	unexpSamp  []string
	types      []*typeAcc
	win        []*typeAcc
	winStart   time.Time
	windows    []Window
	cursor     uint64 // every message before it is complete or counted lost
	lostSoFar  uint64
	// expectedN and arrivedN count arrivals expected and come so far (Status).
	expectedN, arrivedN uint64
}

type source struct {
	probe.Source
	rules    []compiled
	next     uint64
	arrivals uint64
	lastOK   time.Time
	err      error
}

// hit is one arrival matched to a message of this part.
type hit struct {
	seq   uint64
	probe uint16
	at    int64 // ns since the run's start
}

type typeAcc struct {
	arrived uint64
	hist    *hdrhistogram.Histogram
	maxUs   int64
}

func newAcc() *typeAcc { return &typeAcc{hist: newHist()} }

func (a *typeAcc) add(us int64) {
	us = min(max(us, histMin), histMax)
	a.arrived++
	_ = a.hist.RecordValue(us)
	a.maxUs = max(a.maxUs, us)
}

// NewTracker prepares tracking; cfg must have passed Check.
func NewTracker(cfg Config, s Setup) (*Tracker, error) {
	t := &Tracker{cfg: cfg, setup: s, queues: map[uint32][]uint64{}}
	for _, name := range s.Types {
		t.expect = append(t.expect, uint8(cfg.Expect[name]))
		t.types = append(t.types, newAcc())
		t.win = append(t.win, newAcc())
	}
	for _, p := range cfg.Probes {
		src := &source{Source: probe.Source{Name: p.Name, URL: p.URL, Token: p.token()}}
		for _, r := range p.Match {
			c, err := r.compile(nil)
			if err != nil {
				return nil, err
			}
			src.rules = append(src.rules, c)
			t.bySend = t.bySend || strings.HasPrefix(r.By, "sender.")
		}
		t.sources = append(t.sources, src)
	}
	if t.bySend {
		t.byPhone, t.byEmail = map[string]int{}, map[string]int{}
		for i, snd := range s.Senders {
			t.byPhone[snd.Phone], t.byEmail[strings.ToLower(snd.Email)] = i, i
		}
	}
	return t, nil
}

// Open asks every probe where its journal ends, so only what arrives from
// now on counts; a probe that does not answer is an error naming it.
func (t *Tracker) Open(ctx context.Context) error {
	for i, s := range t.sources {
		_, n, err := s.Pull(ctx, 0, 0)
		if err != nil {
			return fmt.Errorf("e2e.probes[%d].url %s: %w (is `stack dumpster --journal` running there, and %s set to its token?)",
				i, s.URL, err, probe.TokenEnv)
		}
		s.next, s.lastOK = n, time.Now()
	}
	return nil
}

// Start sets the run's start time (when the first message is due).
func (t *Tracker) Start(at time.Time) {
	t.mu.Lock()
	t.start, t.winStart = at, at
	t.mu.Unlock()
}

// Sent records a message's send.
func (t *Tracker) Sent(s Sent) {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := t.led.at(s.Seq)
	r.intended, r.lagUs, r.sender = int64(s.Intended), floorUs(s.Lag), uint32(s.Sender)
	r.code, r.typ, r.flags = int16(s.Code), uint8(s.Type), r.flags|seen
	if s.Code < 200 || s.Code > 299 {
		r.flags |= refused
	}
	if s.Resend {
		r.flags |= resend
	}
	t.expectedN += uint64(t.expects(r))
	if t.bySend && t.expects(r) > 0 {
		t.queues[r.sender] = append(t.queues[r.sender], s.Seq)
	}
}

func (t *Tracker) expects(r *rec) uint8 {
	if r.flags&(refused|resend) != 0 {
		return 0
	}
	return t.expect[r.typ]
}

// floorUs is d in whole microseconds, rounded down (a request that left a
// little early keeps a start no later than its actual send).
func floorUs(d time.Duration) int32 {
	us := d / time.Microsecond
	if d < 0 && d%time.Microsecond != 0 {
		us--
	}
	return int32(max(min(us, math.MaxInt32), math.MinInt32))
}
