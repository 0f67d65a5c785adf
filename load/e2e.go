package load

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/stack-tools/stack/load/e2e"
	"github.com/stack-tools/stack/load/scenario"
)

// E2EObserver is an Observer that also sees each arrival's end-to-end
// latency (live metrics); it is called from the tracker's goroutine.
type E2EObserver interface {
	ObserveE2E(typ string, latency time.Duration)
}

// tracking adapts an e2e.Tracker to a run; a nil *tracking (no e2e) does nothing.
type tracking struct {
	t   *e2e.Tracker
	cfg e2e.Config
}

// newTracker checks the run's e2e configuration against the scenario and
// opens its probes: a bad rule, an unknown type or an unreachable probe
// fails the run before it starts.
func (c *Config) newTracker(ctx context.Context, gen *scenario.Generator) (*tracking, error) {
	if c.E2E == nil {
		return nil, nil
	}
	cfg := *c.E2E
	if c.Stop != nil {
		cfg.MaxE2ELatency, cfg.MaxLost = c.Stop.MaxE2ELatency, c.Stop.MaxLost
	}
	names := make([]string, len(gen.Types))
	for i, t := range gen.Types {
		names[i] = t.Name
	}
	codec := scenario.IDCodec{Format: c.Scenario.MessageID, Run: c.Options.Run}
	snd := gen.Senders[0]
	sample := map[string]string{"id": codec.RunID(0, 0), "sender.phone": snd.Phone, "sender.email": snd.Email}
	if err := cfg.Check(c.Scenario.TypeNames(), sample); err != nil {
		return nil, err
	}
	lo, hi := gen.SenderRange()
	setup := e2e.Setup{Types: names, Codec: codec, Part: c.Options.Part, Senders: gen.Senders,
		SenderLo: lo, SenderHi: hi, Window: c.Window}
	if o, ok := c.Observer.(E2EObserver); ok {
		setup.Observe = func(typ int, d time.Duration) { o.ObserveE2E(names[typ], d) }
	}
	t, err := e2e.NewTracker(cfg, setup)
	if err != nil {
		return nil, err
	}
	if err := t.Open(ctx); err != nil {
		return nil, err
	}
	return &tracking{t: t, cfg: cfg}, nil
}

// start begins pulling the probes; the function returned stops it.
func (k *tracking) start(at time.Time) func() {
	if k == nil {
		return func() {}
	}
	k.t.Start(at)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { k.t.Loop(ctx); close(done) }()
	return func() { cancel(); <-done }
}

func (k *tracking) sent(r *result) {
	if k == nil {
		return
	}
	code := int(r.code)
	if r.err != nil {
		code = 0
	}
	k.t.Sent(e2e.Sent{Seq: r.seq, Type: int(r.typ), Intended: r.due, Lag: r.lag, Code: code,
		Resend: r.kind == scenario.Duplicate, Sender: int(r.sender)})
}

func (k *tracking) status() string {
	if k == nil {
		return ""
	}
	return k.t.Status()
}

func (k *tracking) judge(now time.Time, percentile float64) string {
	if k == nil {
		return ""
	}
	return k.t.Judge(now, percentile)
}

// finish waits for stragglers and puts the e2e section in rep; a probe that
// stopped answering makes the run incomplete, too many lost fails it.
func (k *tracking) finish(ctx context.Context, sendEnd time.Time, rep *Report, progress func(Progress)) {
	if k == nil {
		return
	}
	var say func(string)
	if progress != nil {
		t := rep.Total
		say = func(s string) {
			progress(Progress{Elapsed: time.Since(rep.Started), Sent: t.Sent, Responses: t.Responses, Success: t.Success, Late: t.Late, E2E: s})
		}
	}
	rep.E2E = k.t.Finish(ctx, sendEnd, say)
	rep.Trace = k.t.WriteTrace
	if rep.Verdict != Passed {
		return
	}
	if rep.E2E.Incomplete != "" {
		rep.Verdict, rep.Reason = Incomplete, "e2e: "+rep.E2E.Incomplete
		return
	}
	rep.CheckLost(k.cfg.MaxLost)
}

// CheckLost fails a passed run that lost more arrivals than maxLost (nil: no bound).
func (r *Report) CheckLost(maxLost *int) {
	if r.Verdict != Passed || r.E2E == nil || maxLost == nil || r.E2E.Total.Lost <= uint64(*maxLost) {
		return
	}
	r.Verdict, r.Reason = Stopped, fmt.Sprintf("e2e: %d arrivals lost > max_lost %d (lost ids: %v)",
		r.E2E.Total.Lost, *maxLost, r.E2E.Total.LostIDs)
}

// WriteTrace writes the run's trace (e2e.TraceFile) when it has one.
func (r *Report) WriteTrace(w io.Writer) error {
	if r.Trace == nil {
		return nil
	}
	return r.Trace(w)
}
