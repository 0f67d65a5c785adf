// Package load drives open-model HTTP load from a scenario at a target and
// reports what happened per message type.
//
// Requests leave on a schedule (package pace) whatever the target does; each
// request's latency runs from its intended send time to the end of its
// response, so a slow target shows up as latency instead of as a quietly
// slower send rate (coordinated omission). Requests that could not leave on
// time are counted as late.
package load

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/stack-tools/stack/internal/proc"
	"github.com/stack-tools/stack/load/e2e"
	"github.com/stack-tools/stack/load/pace"
	"github.com/stack-tools/stack/load/scenario"
)

// Config describes one run.
type Config struct {
	Scenario *scenario.Scenario
	Options  scenario.Options
	// Target is the base URL; each message type's path is appended to it.
	Target string
	Rate   pace.Spec
	// Duration and/or Requests bound the run; at least one is required.
	Duration time.Duration
	Requests uint64
	// Timeout bounds each request (default 10s).
	Timeout time.Duration
	// Workers is the number of senders to start with; MaxWorkers the most the
	// run may grow to when all are busy (each holds one keep-alive connection).
	// Defaults are sized to the peak rate.
	Workers, MaxWorkers int
	// Insecure skips TLS certificate verification.
	Insecure bool
	// LateAfter: a request leaving later than this after its intended time is late (default 10ms).
	LateAfter time.Duration
	// Window is the reporting slice (default: the stop policy's window, else 1s,
	// longer for runs over 5 minutes).
	Window time.Duration
	Stop   *StopPolicy
	// Progress is called once per window with the totals so far.
	Progress func(Progress)
	// Observer sees every response (live metrics).
	Observer Observer
	// StdClient forces net/http for plain HTTP targets too.
	StdClient bool

	// StartAt, when set, holds the first request until then (after the
	// connections are open): how the workers of a fleet start together.
	StartAt time.Time
	// Histograms keeps each window's and the run's HDR histograms in the
	// report (Report.Hist, Window.Hist), so runs of several processes can be
	// merged (Merge).
	Histograms bool
	// Reload re-reads the scenario during the run (see Reload).
	Reload *Reload
	// Batch is the most messages per SendMessageBatch call for sqs:// targets
	// (1..10, default 10); BatchWait how long a batch may wait to fill
	// (default 5ms). Latency of each message runs to the end of its batch.
	Batch     int
	BatchWait time.Duration
	// Kafka shapes producing to kafka:// targets (kafka.go).
	Kafka *KafkaOptions
	// Canned replays a targets file instead of the scenario (UseTargets).
	Canned *Targets
	// Forever makes the run last until stopped (forever.go).
	Forever *Persistent
	// E2E traces every message to its arrivals at the probes (e2e.go).
	E2E *e2e.Config
}

// Progress is a live summary.
type Progress struct {
	Elapsed   time.Duration
	Sent      uint64
	Responses uint64
	Success   uint64
	Late      uint64
	InFlight  int64
	// WindowRate is the send rate and WindowP99 the p99 latency in the last window.
	WindowRate float64
	WindowP99  time.Duration
	Votes      int
	// E2E says how the far end is doing (runs with probes).
	E2E string
}

// String is the progress line: the last window's rate and p99, then the
// run's totals so far, each labelled as such.
func (p Progress) String() string {
	p99 := "-"
	if p.WindowP99 > 0 {
		p99 = p.WindowP99.Round(time.Microsecond).String()
	}
	line := fmt.Sprintf("%6.1fs  window: %.1f/s p99 %s  total: sent %d ok %.2f%% late %d in flight %d votes %d",
		p.Elapsed.Seconds(), p.WindowRate, p99, p.Sent, 100*ratio(p.Success, p.Responses),
		p.Late, p.InFlight, p.Votes)
	if p.E2E != "" {
		line += "  " + p.E2E
	}
	return line
}

// Observer sees each response as it arrives, from one goroutine.
type Observer interface {
	Observe(typ string, code int, failed bool, latency time.Duration)
	Progress(p Progress)
}

func (c *Config) check() (pace.Schedule, error) {
	if c.Scenario == nil {
		return nil, errors.New("no scenario")
	}
	if c.Duration < 0 {
		return nil, errors.New("duration must be positive")
	}
	forever, err := c.checkForever()
	if err != nil {
		return nil, err
	}
	if c.Duration == 0 && c.Requests == 0 && !forever {
		return nil, errors.New("give a duration (such as 30s) and/or a number of requests, so the run ends by itself")
	}
	s, err := c.Rate.Build(c.Duration)
	if err != nil {
		return nil, err
	}
	if c.Timeout == 0 {
		c.Timeout = 10 * time.Second
	}
	if c.LateAfter == 0 {
		c.LateAfter = 10 * time.Millisecond
	}
	if c.Stop != nil {
		if err := c.Stop.Check(); err != nil {
			return nil, err
		}
		c.Window = time.Duration(c.Stop.Window)
	}
	if c.Window == 0 {
		c.Window = time.Second
		if c.Duration > 5*time.Minute {
			c.Window = (c.Duration / 300).Round(time.Second)
		}
	}
	// Size the sender pool to the peak rate: enough for ~20ms of responses to
	// start with, room for 2s of a stalled target, within the open-file limit.
	end := c.Duration
	if c.Requests > 0 && (end == 0 || s.Due(c.Requests) < end) {
		end = s.Due(c.Requests)
	}
	peak := math.Max(s.Rate(0), s.Rate(end))
	if c.MaxWorkers == 0 {
		c.MaxWorkers = clamp(int(2*peak), 64, 4096)
		if lim, ok := proc.OpenFileLimit(); ok && lim > 256 && uint64(c.MaxWorkers) > lim-128 {
			c.MaxWorkers = int(lim - 128)
		}
	}
	if c.Workers == 0 {
		// The starting pool never exceeds a cap the user gave (--max-workers).
		c.Workers = min(clamp(int(peak/50), 2, 64), c.MaxWorkers)
	}
	if c.Workers < 1 || c.MaxWorkers < c.Workers {
		return nil, fmt.Errorf("workers (%d) must be at least 1 and at most max workers (%d)", c.Workers, c.MaxWorkers)
	}
	return s, nil
}

func clamp(v, lo, hi int) int { return max(lo, min(v, hi)) }

type job struct {
	msg      scenario.Message
	intended time.Time
	due      time.Duration
}

type result struct {
	typ     int32
	kind    scenario.Kind
	code    int32
	sender  int32
	seq     uint64
	due     time.Duration
	latency time.Duration
	lag     time.Duration
	in, out int64
	err     error
}

// Run sends the scenario's messages at the target until the schedule ends, the
// stop policy votes to stop, or ctx is cancelled, and reports. The error is for
// a run that could not start; how the run went is in Report.Verdict.
//
// A run is four pieces, as in vegeta's Attack: a pacer loop that hands each
// message to the worker pool at its intended time (feed), the pool of senders
// (workers), the drain of requests in flight, and the verdict (stopper).
func Run(ctx context.Context, cfg Config) (*Report, error) {
	sched, err := cfg.check()
	if err != nil {
		return nil, err
	}
	if cfg.E2E != nil && cfg.Options.Run == 0 {
		cfg.Options.Run = scenario.NewRun()
	}
	gen, err := cfg.generator()
	if err != nil {
		return nil, err
	}
	tracker, err := cfg.newTracker(ctx, gen)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(gen.Types))
	for i, t := range gen.Types {
		names[i] = t.Name
	}
	st := newStopper(ctx, cfg)
	w, err := newWorkers(ctx, cfg, gen, len(names))
	if err != nil {
		return nil, err
	}
	defer w.abort()
	if cfg.Reload != nil {
		go cfg.Reload.run(w.sendCtx, gen, generatorTarget(cfg.Target), cfg.Scenario)
	}
	col := newCollector(names, cfg, w.sent)
	col.e2e = tracker
	colDone := make(chan struct{})
	// Open the first connections before the clock starts, so the first
	// requests do not wait for them (and start late).
	w.warm(ctx)
	waitUntil(ctx, cfg.StartAt)
	start := time.Now()
	stopTracking := tracker.start(start)
	go func() { col.run(start, w.results, st.stop); close(colDone) }()

	genErr := feed(cfg, sched, gen, w, start, st.ch)
	sendEnd := time.Now()
	w.drain(ctx, st.ch)
	<-colDone
	stopTracking()

	rep := col.report(start, sendEnd)
	rep.Scenario = cfg.Scenario.Name
	rep.Target = redactURL(cfg.Target)
	rep.Shape = sched.String()
	rep.Seed = gen.Seed
	rep.Stop = cfg.Stop
	st.verdict(rep, genErr)
	tracker.finish(ctx, sendEnd, rep, cfg.Progress)
	return rep, nil
}

// stopper ends a run early: the stop policy's vote, or ctx cancelled.
type stopper struct {
	ch                      chan struct{} // closed on the first stop
	once                    sync.Once
	stopVerdict, stopReason string
}

func newStopper(ctx context.Context, cfg Config) *stopper {
	st := &stopper{ch: make(chan struct{})}
	go func() {
		select {
		case <-ctx.Done():
			st.stop(cfg.stopped(ctx))
		case <-st.ch:
		}
	}()
	return st
}

func (st *stopper) stop(verdict, reason string) {
	st.once.Do(func() { st.stopVerdict, st.stopReason = verdict, reason; close(st.ch) })
}

// verdict says how the run went: passed, the stop's verdict, or errored when
// the generator failed or nothing answered.
func (st *stopper) verdict(rep *Report, genErr error) {
	select {
	case <-st.ch:
		rep.Verdict, rep.Reason = st.stopVerdict, st.stopReason
	default:
		rep.Verdict = Passed
	}
	switch {
	case genErr != nil:
		rep.Verdict, rep.Reason = Errored, genErr.Error()
	case rep.Verdict == Passed && rep.Total.Sent > 0 && rep.Total.Responses == 0:
		rep.Verdict, rep.Reason = Errored, "no request got a response: "+topError(rep.Total.ErrorTexts)
	}
}

// workers is the pool of senders: each takes jobs, sends, and reports a
// result. It grows, up to cfg.MaxWorkers, when no sender is idle.
type workers struct {
	cfg       Config
	jobs      chan *job
	free      sync.Pool // of *job
	wg        sync.WaitGroup
	n         int // senders started
	newSender func() sender
	reg       *connRegistry
	sent      []atomic.Uint64 // per type, counted as each leaves
	results   chan result
	sendCtx   context.Context
	abort     context.CancelFunc // cuts requests in flight short
}

func newWorkers(ctx context.Context, cfg Config, gen *scenario.Generator, types int) (*workers, error) {
	w := &workers{cfg: cfg, jobs: make(chan *job), reg: &connRegistry{conns: map[net.Conn]struct{}{}},
		sent: make([]atomic.Uint64, types), results: make(chan result, 4096)}
	w.free.New = func() any { return new(job) }
	w.sendCtx, w.abort = context.WithCancel(context.Background())
	var err error
	if w.newSender, err = cfg.senders(ctx, gen, w.reg); err != nil {
		w.abort()
		return nil, err
	}
	return w, nil
}

// warm opens the starting senders' connections, then starts them.
func (w *workers) warm(ctx context.Context) {
	first := make([]sender, w.cfg.Workers)
	var warm sync.WaitGroup
	for i := range first {
		first[i] = w.newSender()
		warm.Add(1)
		go func(s sender) { defer warm.Done(); s.warm(ctx, time.Now().Add(w.cfg.Timeout)) }(first[i])
	}
	warm.Wait()
	for _, s := range first {
		w.spawn(s)
	}
}

// spawn starts one more sender (a new one when s is nil).
func (w *workers) spawn(s sender) {
	w.n++
	w.wg.Add(1)
	if s == nil {
		s = w.newSender()
	}
	go w.work(s)
}

// work sends jobs until the pool closes; latency counts from the intended
// time (or the send, if that was earlier).
func (w *workers) work(s sender) {
	defer w.wg.Done()
	defer s.close()
	for j := range w.jobs {
		t := j.msg.Type
		sentAt := time.Now()
		w.sent[t].Add(1)
		code, in, err := s.send(w.sendCtx, &j.msg, sentAt.Add(w.cfg.Timeout))
		done := time.Now()
		from := j.intended
		if sentAt.Before(from) {
			from = sentAt
		}
		if err != nil && w.sendCtx.Err() != nil {
			err = errAborted
		}
		w.results <- result{typ: int32(t), kind: j.msg.Kind, code: int32(code), sender: int32(j.msg.Sender),
			seq: j.msg.Seq, due: j.due, latency: done.Sub(from),
			lag: sentAt.Sub(j.intended), in: in, out: int64(len(j.msg.Body)), err: err}
		w.free.Put(j)
	}
}

// hand gives j to an idle sender, starting one more if none is idle and the
// cap allows, else waiting (this request and the ones behind it will be
// late, and counted so). It returns false when the run stopped.
func (w *workers) hand(j *job, stop <-chan struct{}) bool {
	select {
	case w.jobs <- j:
		return true
	case <-stop:
		return false
	default:
	}
	if w.n < w.cfg.MaxWorkers {
		w.spawn(nil)
	}
	select {
	case w.jobs <- j:
		return true
	case <-stop:
		return false
	}
}

// drain lets requests in flight finish; a stop or interruption cuts them
// short after a grace period. The results channel is closed after it.
func (w *workers) drain(ctx context.Context, stop <-chan struct{}) {
	close(w.jobs)
	drained := make(chan struct{})
	go func() { w.wg.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-stop:
		grace := time.NewTimer(min(w.cfg.Timeout, 2*time.Second))
		if ctx.Err() != nil {
			grace.Reset(0)
		}
		select {
		case <-drained:
		case <-grace.C:
			w.abort()
			w.reg.abort()
			<-drained
		}
	}
	close(w.results)
}

// feed is the open model's pacer loop: message n goes to the pool at its
// intended time, whatever the target does, until the schedule ends or the
// run stops. It returns the generator's error, if it failed.
func feed(cfg Config, sched pace.Schedule, gen *scenario.Generator, w *workers, start time.Time, stop <-chan struct{}) error {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for n := uint64(0); ; n++ {
		if cfg.Requests > 0 && n >= cfg.Requests {
			return nil
		}
		due := sched.Due(n)
		if cfg.Duration > 0 && due >= cfg.Duration {
			return nil
		}
		j := w.free.Get().(*job)
		if err := gen.Next(&j.msg); err != nil {
			return fmt.Errorf("message %d: %w", n, err)
		}
		j.intended, j.due = start.Add(due), due
		if wait := time.Until(j.intended); wait > 50*time.Microsecond {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-stop:
				timer.Stop()
				return nil
			}
		}
		if !w.hand(j, stop) {
			return nil
		}
	}
}

var errAborted = errors.New("aborted: the run stopped before the response came")

func newSenderFunc(cfg Config, gen *scenario.Generator, reg *connRegistry) func() sender {
	u := gen.Types[0].URL
	if u.Scheme == "http" && !cfg.StdClient {
		heads := newRequestHeads(gen.Types)
		addr := u.Host
		if u.Port() == "" {
			addr = net.JoinHostPort(u.Hostname(), "80")
		}
		dialer := &net.Dialer{Timeout: cfg.Timeout, KeepAlive: 30 * time.Second}
		return func() sender { return &h1Conn{addr: addr, heads: heads, dial: dialer, reg: reg} }
	}
	client := &http.Client{Transport: newStdTransport(cfg.MaxWorkers, cfg.Insecure, cfg.Timeout),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return func() sender { return &stdSender{client: client, types: gen.Types} }
}

func topError(m map[string]uint64) string {
	best, n := "", uint64(0)
	for k, v := range m {
		if v > n || (v == n && k < best) {
			best, n = k, v
		}
	}
	return best
}

// acc accumulates results for one type (or all) over the run or a window.
type acc struct {
	responses, success, errors, late uint64
	maxLag                           time.Duration
	in, out                          uint64
	codes                            map[int32]uint64
	errs                             map[string]uint64
	bodies                           [3]uint64
	hist                             *hdrhistogram.Histogram
	maxUs, sumUs                     int64
}

func newAcc() *acc {
	return &acc{codes: map[int32]uint64{}, errs: map[string]uint64{}, hist: newHist()}
}

func (a *acc) add(r *result, lateAfter time.Duration) {
	a.out += uint64(r.out)
	a.in += uint64(r.in)
	a.bodies[r.kind]++
	if r.lag > lateAfter {
		a.late++
	}
	a.maxLag = max(a.maxLag, r.lag)
	if r.err != nil {
		a.errors++
		text := r.err.Error()
		if _, ok := a.errs[text]; ok || len(a.errs) < 20 {
			a.errs[text]++
		} else {
			a.errs["other errors"]++
		}
		return
	}
	a.responses++
	if r.code >= 200 && r.code < 300 {
		a.success++
	}
	a.codes[r.code]++
	us := min(max(int64(r.latency/time.Microsecond), histMin), histMax)
	_ = a.hist.RecordValue(us)
	a.maxUs = max(a.maxUs, us)
	a.sumUs += us
}

func (a *acc) reset() {
	*a = acc{codes: a.codes, errs: a.errs, hist: a.hist}
	clear(a.codes)
	clear(a.errs)
	a.hist.Reset()
}

// collector aggregates results in one goroutine, rotating windows on a ticker.
type collector struct {
	names        []string
	cfg          Config
	sent         []atomic.Uint64
	total, win   *acc
	types, wtype []*acc
	lastSent     []uint64
	windows      []Window
	voter        *voter
	votes        int
	lastRoll     time.Time // a persistent run's last roll (forever.go)
	e2e          *tracking
}

func newCollector(names []string, cfg Config, sent []atomic.Uint64) *collector {
	c := &collector{names: names, cfg: cfg, sent: sent, total: newAcc(), win: newAcc(), lastSent: make([]uint64, len(names))}
	for range names {
		c.types = append(c.types, newAcc())
		c.wtype = append(c.wtype, newAcc())
	}
	if cfg.Stop != nil {
		c.voter = &voter{policy: cfg.Stop}
	}
	return c
}

func (c *collector) run(start time.Time, results <-chan result, stop func(verdict, reason string)) {
	tick := time.NewTicker(c.cfg.Window)
	defer tick.Stop()
	winStart := start
	for {
		select {
		case r, ok := <-results:
			if !ok {
				if now := time.Now(); now.Sub(winStart) > c.cfg.Window/10 || c.win.responses+c.win.errors > 0 {
					c.rotate(start, winStart, now, nil)
				}
				return
			}
			lateAfter := c.cfg.LateAfter
			c.e2e.sent(&r)
			c.total.add(&r, lateAfter)
			c.types[r.typ].add(&r, lateAfter)
			c.win.add(&r, lateAfter)
			c.wtype[r.typ].add(&r, lateAfter)
			if c.cfg.Observer != nil {
				c.cfg.Observer.Observe(c.names[r.typ], int(r.code), r.err != nil || r.code < 200 || r.code >= 300, r.latency)
			}
		case now := <-tick.C:
			c.rotate(start, winStart, now, stop)
			winStart = now
		}
	}
}

// rotate closes the current window: it records it, votes, and reports progress.
func (c *collector) rotate(start, from, to time.Time, stop func(verdict, reason string)) {
	secs := to.Sub(from).Seconds()
	w := Window{Start: from.Sub(start).Seconds(), End: to.Sub(start).Seconds(), Types: map[string]WindowStats{}}
	var sentNow, sentWin uint64
	for i, name := range c.names {
		s := c.sent[i].Load()
		d := s - c.lastSent[i]
		c.lastSent[i] = s
		sentNow += s
		sentWin += d
		w.Types[name] = windowStats(c.wtype[i], d, secs)
		// On one core the sender waits while this goroutine works: let it run.
		runtime.Gosched()
	}
	w.Total = windowStats(c.win, sentWin, secs)
	if c.cfg.Histograms {
		w.Hist = encodeHists(c.win.hist, c.names, c.wtype)
	}
	done := c.total.responses + c.total.errors
	inFlight := int64(sentNow) - int64(done)
	if c.voter != nil {
		pct := time.Duration(c.win.hist.ValueAtQuantile(c.voter.policy.Percentile)) * time.Microsecond
		votes, why, halt := c.voter.add(windowHealth{sent: sentWin, responses: c.win.responses, errors: c.win.errors,
			success: c.win.success, latency: pct, inFlight: inFlight, e2e: c.e2e.judge(to, c.voter.policy.Percentile)})
		w.Votes, w.Unhealthy, c.votes = votes, why, votes
		if halt && stop != nil {
			stop(Stopped, fmt.Sprintf("stopped by vote after %.0fs: %d unhealthy windows outweighed healthy ones (last: %s)", w.End, votes, why))
		}
	}
	c.windows = append(c.windows, w)
	c.roll(start, to)
	p := Progress{Elapsed: to.Sub(start), Sent: sentNow, Responses: c.total.responses, Success: c.total.success,
		Late: c.total.late, InFlight: inFlight, WindowRate: w.Total.Rate,
		WindowP99: time.Duration(c.win.hist.ValueAtQuantile(99)) * time.Microsecond, Votes: c.votes, E2E: c.e2e.status()}
	if c.cfg.Progress != nil {
		c.cfg.Progress(p)
	}
	if c.cfg.Observer != nil {
		c.cfg.Observer.Progress(p)
	}
	c.win.reset()
	for _, a := range c.wtype {
		a.reset()
	}
}

func windowStats(a *acc, sent uint64, secs float64) WindowStats {
	ws := WindowStats{Sent: sent, Responses: a.responses, Success: a.success, Errors: a.errors, Late: a.late,
		SuccessRatio: ratio(a.success, a.responses+a.errors), Latency: latencyOf(a.hist, a.maxUs, a.sumUs)}
	if secs > 0 {
		ws.Rate = float64(sent) / secs
		ws.Throughput = float64(a.success) / secs
	}
	return ws
}

func (c *collector) report(start, sendEnd time.Time) *Report {
	secs := sendEnd.Sub(start).Seconds()
	rep := &Report{Started: start.UTC(), Finished: time.Now().UTC(), Seconds: secs,
		LateAfterMs: float64(c.cfg.LateAfter) / 1e6, WindowSeconds: c.cfg.Window.Seconds(), Windows: c.windows}
	var all uint64
	for i, name := range c.names {
		s := c.sent[i].Load()
		all += s
		rep.Types = append(rep.Types, TypeStats{Name: name, Stats: stats(c.types[i], s, secs)})
	}
	rep.Total = stats(c.total, all, secs)
	if c.cfg.Histograms {
		rep.Hist = encodeHists(c.total.hist, c.names, c.types)
	}
	return rep
}

func stats(a *acc, sent uint64, secs float64) Stats {
	s := Stats{Sent: sent, Responses: a.responses, Success: a.success, Errors: a.errors, Late: a.late,
		MaxLagMs: float64(a.maxLag) / 1e6, SuccessRatio: ratio(a.success, a.responses+a.errors),
		BytesOut: a.out, BytesIn: a.in, Latency: latencyOf(a.hist, a.maxUs, a.sumUs),
		Codes: map[string]uint64{}, ErrorTexts: map[string]uint64{}, Bodies: map[string]uint64{}}
	s.Distribution = distribution(a.hist, s.Latency.Max)
	if secs > 0 {
		s.Rate = float64(sent) / secs
		s.Throughput = float64(a.success) / secs
	}
	for code, n := range a.codes {
		s.Codes[strconv.Itoa(int(code))] = n
	}
	for text, n := range a.errs {
		s.ErrorTexts[text] = n
	}
	for k, n := range a.bodies {
		if n > 0 {
			s.Bodies[scenario.Kind(k).String()] = n
		}
	}
	return s
}

// redactURL drops credentials from a URL before it is stored or printed.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	u.User = nil
	return u.String()
}
