package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/stack-tools/stack/load"
	"github.com/stack-tools/stack/load/e2e"
	"github.com/stack-tools/stack/load/pace"
	"github.com/stack-tools/stack/load/scenario"
)

// Coordinator plans a run, has Count workers of the group run it, and merges
// their results.
type Coordinator struct {
	Conn
	// Count is how many workers take part.
	Count int
	// WaitTimeout bounds the wait for Count workers to register (default 5m)
	// and for them to be ready (default 1m).
	WaitTimeout, ReadyTimeout time.Duration
	// Progress receives a line whenever there is news (workers registering,
	// the run's totals every few seconds).
	Progress func(line string)
	// Window, if set, receives the run's totals instead of Progress: a
	// generator step shows them as Terraform's lines are shown, with -v.
	Window func(line string)
	// Keep leaves the run's nodes in ZooKeeper (for inspection).
	Keep bool
}

func (c *Coordinator) say(format string, args ...any) {
	if c.Progress != nil {
		c.Progress(fmt.Sprintf(format, args...))
	}
}

// Run splits cfg among the workers and returns the merged report. The error
// is for a run that could not start; a lost worker shows in the report.
func (c *Coordinator) Run(ctx context.Context, cfg load.Config) (*load.Report, error) {
	conn0, err := c.Conn.check()
	if err != nil {
		return nil, err
	}
	c.Conn = conn0
	if c.Count < 1 {
		return nil, fmt.Errorf("workers count %d: want at least 1", c.Count)
	}
	if c.WaitTimeout == 0 {
		c.WaitTimeout = 5 * time.Minute
	}
	if c.ReadyTimeout == 0 {
		c.ReadyTimeout = time.Minute
	}
	plan, err := c.plan(cfg)
	if err != nil {
		return nil, err
	}
	conn, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	g := c.group()
	for _, p := range []string{path.Join(g, "workers"), path.Join(g, "runs")} {
		if err := ensure(conn, p); err != nil {
			return nil, err
		}
	}
	workers, err := c.waitWorkers(ctx, conn)
	if err != nil {
		return nil, err
	}
	plan.Workers = workers
	plan.StartWithin = pace.Duration(c.ReadyTimeout + 30*time.Second)
	idents := c.identities(conn, workers)
	run, err := c.writePlan(conn, plan)
	if err != nil {
		return nil, err
	}
	if !c.Keep {
		defer func() { _ = deleteTree(conn, run) }()
	}
	c.say("run %s: plan written for %d workers (%s)", path.Base(run), len(workers), strings.Join(shortNames(workers), ", "))

	ready, err := c.barrier(ctx, conn, run, workers)
	if err != nil {
		return nil, err
	}
	at := time.Now().Add(500 * time.Millisecond).Round(time.Millisecond)
	st, _ := json.Marshal(start{At: at, Parts: ready})
	if _, err := conn.Create(path.Join(run, "start"), st, 0, acl); err != nil {
		return nil, fmt.Errorf("starting the run: %w", err)
	}
	c.say("run %s: %d workers start at %s", path.Base(run), len(ready), at.Format(time.RFC3339Nano))
	results, missing := c.gather(ctx, conn, run, workers, ready, at, cfg)
	// The stop node names the share whose vote stopped every share.
	stopped, _, _ := conn.Get(path.Join(run, "stop"))
	// What a lost worker last said it had sent, for the report.
	lastSent := map[string]uint64{}
	for w := range missing {
		if p, ok := readProgress(conn, run, w); ok {
			lastSent[w] = p.Sent
		}
	}
	return c.merge(cfg, plan, workers, idents, results, missing, lastSent, string(stopped))
}

// identities reads what each worker says of itself (host, pid, metrics).
func (c *Coordinator) identities(conn *zk.Conn, workers []string) map[string]Identity {
	idents := map[string]Identity{}
	for _, w := range workers {
		var id Identity
		if data, _, err := conn.Get(path.Join(c.group(), "workers", w)); err == nil {
			_ = json.Unmarshal(data, &id)
		}
		idents[w] = id
	}
	return idents
}

// writePlan creates the run's node with its plan and its folders in one
// transaction, so a worker that sees the plan can always join the barrier.
// Run names sort by time.
func (c *Coordinator) writePlan(conn *zk.Conn, plan *Plan) (string, error) {
	data, err := json.Marshal(plan)
	if err != nil {
		return "", err
	}
	if len(data) > 1000_000 {
		return "", fmt.Errorf("the run's plan is %d bytes, more than a ZooKeeper node holds (1 MB): the scenario's templates are too large to ship to workers", len(data))
	}
	run := path.Join(c.group(), "runs", "r-"+time.Now().UTC().Format("20060102T150405.000000000Z"))
	ops := []any{&zk.CreateRequest{Path: run, Data: data, Acl: acl}}
	for _, sub := range []string{"ready", "progress", "results", "done"} {
		ops = append(ops, &zk.CreateRequest{Path: path.Join(run, sub), Acl: acl})
	}
	if _, err := conn.Multi(ops...); err != nil {
		return "", fmt.Errorf("writing the plan to %s: %w", run, err)
	}
	return run, nil
}

func shortNames(ws []string) []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = shortName(w)
	}
	return out
}

// plan turns cfg into what the workers need.
func (c *Coordinator) plan(cfg load.Config) (*Plan, error) {
	if cfg.Scenario == nil {
		return nil, errors.New("no scenario")
	}
	if cfg.Reload != nil {
		return nil, errors.New("reload is not available with workers: the workers get the templates once, with the plan")
	}
	if cfg.Requests > 0 && cfg.Requests < uint64(c.Count) {
		return nil, fmt.Errorf("%d requests cannot be split among %d workers", cfg.Requests, c.Count)
	}
	files, err := cfg.Scenario.Files()
	if err != nil {
		return nil, err
	}
	o := cfg.Options
	if o.Seed == 0 {
		o.Seed = rand.Uint64()>>11 | 1
	}
	if cfg.E2E != nil && o.Run == 0 {
		o.Run = scenario.NewRun() // one run id for every share: ids say which share sent them
	}
	token := o.AuthToken
	o.AuthToken = ""
	p := &Plan{Scenario: files, Source: cfg.Scenario.Source, Target: cfg.Target, Rate: cfg.Rate,
		Duration: pace.Duration(cfg.Duration), Requests: cfg.Requests, Options: o, AuthTokenSHA256: tokenHash(token),
		Timeout: pace.Duration(cfg.Timeout), LateAfter: pace.Duration(cfg.LateAfter), Window: pace.Duration(cfg.Window),
		MaxWorkers: cfg.MaxWorkers, Insecure: cfg.Insecure, Stop: cfg.Stop, Batch: cfg.Batch, BatchWait: pace.Duration(cfg.BatchWait),
		E2E: withoutTokens(cfg.E2E)}
	// Check the plan as the first worker will see it, before anyone waits.
	if _, err := p.config(0, token); err != nil {
		return nil, err
	}
	return p, nil
}

// waitWorkers waits until Count workers are registered and picks the first
// Count (oldest registrations).
func (c *Coordinator) waitWorkers(ctx context.Context, conn *zk.Conn) ([]string, error) {
	deadline := time.NewTimer(c.WaitTimeout)
	defer deadline.Stop()
	last := -1
	for {
		kids, _, watch, err := conn.ChildrenW(path.Join(c.group(), "workers"))
		if err != nil {
			return nil, fmt.Errorf("listing the workers of group %s: %w", c.Group, err)
		}
		sortBySeq(kids)
		if len(kids) >= c.Count {
			return kids[:c.Count], nil
		}
		if len(kids) != last {
			last = len(kids)
			c.say("waiting for workers in group %s: %d of %d registered", c.Group, len(kids), c.Count)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-deadline.C:
			return nil, fmt.Errorf("only %d of %d workers registered in group %s at %s within %s: start more with `stack load-worker --zookeeper %s --group %s`, or ask for fewer",
				len(kids), c.Count, c.Group, c.Servers, c.WaitTimeout, c.Servers, c.Group)
		case <-watch:
		}
	}
}

// barrier waits until every worker is ready (or has given up with an error,
// or left), up to ReadyTimeout, and returns the ready ones.
func (c *Coordinator) barrier(ctx context.Context, conn *zk.Conn, run string, workers []string) ([]string, error) {
	deadline := time.NewTimer(c.ReadyTimeout)
	defer deadline.Stop()
	for {
		ready, _, watch, err := conn.ChildrenW(path.Join(run, "ready"))
		if err != nil {
			return nil, fmt.Errorf("waiting for the workers to be ready: %w", err)
		}
		done, _, doneWatch, err := conn.ChildrenW(path.Join(run, "done"))
		if err != nil {
			return nil, err
		}
		alive, _, aliveWatch, err := conn.ChildrenW(path.Join(c.group(), "workers"))
		if err != nil {
			return nil, err
		}
		settled := 0
		for _, w := range workers {
			if slices.Contains(ready, w) || slices.Contains(done, w) || !slices.Contains(alive, w) {
				settled++
			}
		}
		timedOut := false
		if settled < len(workers) {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-watch:
				continue
			case <-doneWatch:
				continue
			case <-aliveWatch:
				continue
			case <-deadline.C:
				timedOut = true
			}
		}
		var in []string
		for _, w := range workers {
			if slices.Contains(ready, w) {
				in = append(in, w)
			}
		}
		if len(in) == 0 {
			if len(done) > 0 {
				res, err := readResult(conn, run, done[0])
				if err == nil && res.Error != "" {
					return nil, fmt.Errorf("worker %s cannot run the plan: %s", shortName(done[0]), res.Error)
				}
			}
			return nil, fmt.Errorf("no worker got ready within %s", c.ReadyTimeout)
		}
		if timedOut {
			c.say("run %s: starting with %d of %d workers: the others were not ready within %s", path.Base(run), len(in), len(workers), c.ReadyTimeout)
		}
		return in, nil
	}
}

// gather waits for every ready worker's result, noting the ones lost.
func (c *Coordinator) gather(ctx context.Context, conn *zk.Conn, run string, workers, ready []string, at time.Time, cfg load.Config) (map[string]*result, map[string]string) {
	g := &gathering{c: c, conn: conn, run: run, ready: ready, at: at,
		results: map[string]*result{}, missing: map[string]string{}, lastProgress: map[string]int64{}}
	for _, w := range workers {
		if !slices.Contains(ready, w) {
			g.missing[w] = "not ready when the run started"
		}
	}
	// The run ends by the schedule; allow for the slowest responses, late
	// senders and writing the results before a silent worker counts as lost.
	deadline := time.NewTimer(time.Until(at.Add(silentAfter(cfg))))
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	interrupted := false
	for {
		pending, doneWatch, aliveWatch := g.poll()
		if pending == 0 {
			return g.results, g.missing
		}
		select {
		case <-ctx.Done():
			if !interrupted {
				interrupted = true
				_, _ = conn.Create(path.Join(run, "stop"), []byte("interrupted: "+context.Cause(ctx).Error()), 0, acl)
				deadline.Reset(10 * time.Second)
			}
			ctx = context.Background()
		case <-doneWatch:
		case <-aliveWatch:
		case <-tick.C:
			c.sayProgress(conn, run, ready, at)
		case <-deadline.C:
			// A worker still writing progress is behind, not lost: wait on.
			if g.progressing() && !interrupted {
				deadline.Reset(15 * time.Second)
				continue
			}
			g.giveUp(cfg)
			return g.results, g.missing
		}
	}
}

// gathering is the state of one gather: results in, workers lost.
type gathering struct {
	c            *Coordinator
	conn         *zk.Conn
	run          string
	ready        []string
	at           time.Time
	results      map[string]*result
	missing      map[string]string
	lastProgress map[string]int64 // a worker's last progress write seen
}

// waiting says whether worker w has neither a result nor a reason it is lost.
func (g *gathering) waiting(w string) bool { return g.results[w] == nil && g.missing[w] == "" }

// poll reads the results written and the workers alive, and returns how
// many are still pending and the watches that fire when that changes.
func (g *gathering) poll() (pending int, doneWatch, aliveWatch <-chan zk.Event) {
	done, _, doneWatch, err := g.conn.ChildrenW(path.Join(g.run, "done"))
	if err != nil {
		done, doneWatch = nil, nil
	}
	alive, _, aliveWatch, aliveErr := g.conn.ChildrenW(path.Join(g.c.group(), "workers"))
	if aliveErr != nil {
		aliveWatch = nil
	}
	for _, w := range g.ready {
		switch {
		case !g.waiting(w):
		case slices.Contains(done, w):
			res, err := readResult(g.conn, g.run, w)
			if err != nil {
				g.missing[w] = "its result could not be read: " + err.Error()
			} else {
				g.results[w] = res
			}
		case aliveErr == nil && !slices.Contains(alive, w):
			g.missing[w] = fmt.Sprintf("the worker left ZooKeeper %.1fs into the run, without a result (it died, or lost its session)", time.Since(g.at).Seconds())
		default:
			pending++
		}
	}
	return pending, doneWatch, aliveWatch
}

// progressing says whether a pending worker wrote progress since last asked.
func (g *gathering) progressing() bool {
	busy := false
	for _, w := range g.ready {
		if !g.waiting(w) {
			continue
		}
		if _, st, err := g.conn.Exists(path.Join(g.run, "progress", w)); err == nil && st != nil && st.Mzxid != g.lastProgress[w] {
			g.lastProgress[w] = st.Mzxid
			busy = true
		}
	}
	return busy
}

// giveUp counts every pending worker as lost.
func (g *gathering) giveUp(cfg load.Config) {
	for _, w := range g.ready {
		if g.waiting(w) {
			g.missing[w] = fmt.Sprintf("no result and no progress %s after the run's scheduled end", (time.Since(g.at) - runLength(cfg)).Round(time.Second))
		}
	}
}

// withoutTokens keeps probe tokens out of ZooKeeper: workers read theirs
// from STACK_PROBE_TOKEN (or the probe's token_env).
func withoutTokens(c *e2e.Config) *e2e.Config {
	if c == nil {
		return nil
	}
	return c.WithoutTokens()
}

// silentAfter is how long after the start a worker's silence means it is lost.
func silentAfter(cfg load.Config) time.Duration {
	d := runLength(cfg) + cfg.Timeout + 10*time.Second + runLength(cfg)/10
	if cfg.Timeout == 0 {
		d += 10 * time.Second
	}
	if cfg.E2E != nil {
		d += max(time.Duration(cfg.E2E.Wait), 30*time.Second) + 30*time.Second // shares wait for stragglers
	}
	return d
}

// runLength is how long the schedule sends.
func runLength(cfg load.Config) time.Duration {
	d := cfg.Duration
	if cfg.Requests > 0 {
		if s, err := cfg.Rate.Build(cfg.Duration); err == nil {
			if r := s.Due(cfg.Requests); d == 0 || r < d {
				d = r
			}
		}
	}
	return d
}

func (c *Coordinator) sayProgress(conn *zk.Conn, run string, ready []string, at time.Time) {
	var sum progress
	for _, w := range ready {
		p, ok := readProgress(conn, run, w)
		if !ok {
			continue
		}
		sum.Sent += p.Sent
		sum.Responses += p.Responses
		sum.Success += p.Success
		sum.Late += p.Late
		sum.InFlight += p.InFlight
		sum.Rate += p.Rate
	}
	ok := 0.0
	if sum.Responses > 0 {
		ok = 100 * float64(sum.Success) / float64(sum.Responses)
	}
	line := fmt.Sprintf("%6.1fs %d workers  window: %.1f/s  total: sent %d ok %.2f%% late %d in flight %d",
		time.Since(at).Seconds(), len(ready), sum.Rate, sum.Sent, ok, sum.Late, sum.InFlight)
	if c.Window != nil {
		c.Window(line)
		return
	}
	c.say("%s", line)
}

func readProgress(conn *zk.Conn, run, w string) (progress, bool) {
	var p progress
	data, _, err := conn.Get(path.Join(run, "progress", w))
	if err != nil || json.Unmarshal(data, &p) != nil {
		return p, false
	}
	return p, true
}

func readResult(conn *zk.Conn, run, w string) (*result, error) {
	data, _, err := conn.Get(path.Join(run, "done", w))
	if err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(string(data))
	if err != nil {
		return nil, fmt.Errorf("done marker %q: %w", data, err)
	}
	var b []byte
	for i := range n {
		part, _, err := conn.Get(path.Join(run, "results", fmt.Sprintf("%s-%04d", w, i)))
		if err != nil {
			return nil, err
		}
		b = append(b, part...)
	}
	var res result
	if err := json.Unmarshal(b, &res); err != nil {
		return nil, err
	}
	if res.Report != nil {
		res.Report.Hist = res.Hist
		for i := range res.Report.Windows {
			if i < len(res.WindowHists) {
				res.Report.Windows[i].Hist = res.WindowHists[i]
			}
		}
		if e := res.Report.E2E; e != nil {
			e.Hist = res.E2EHist
			for i := range e.Windows {
				if i < len(res.E2EWindowHists) {
					e.Windows[i].Hist = res.E2EWindowHists[i]
				}
			}
		}
	}
	return &res, nil
}

// merge builds the one report of the run and its verdict.
func (c *Coordinator) merge(cfg load.Config, plan *Plan, workers []string, idents map[string]Identity,
	results map[string]*result, missing map[string]string, lastSent map[string]uint64, stopped string) (*load.Report, error) {
	var reps []*load.Report
	var shares []load.WorkerShare
	var errs, lost, stops, partial []string
	for i, w := range workers {
		id := idents[w]
		sh := load.WorkerShare{Part: i, Parts: len(workers), Name: shortName(w), Host: id.Host, PID: id.PID}
		res := results[w]
		switch {
		case res == nil:
			sh.Missing, sh.Verdict, sh.Reason, sh.Sent = true, "missing", missing[w], lastSent[w]
			if sh.Sent > 0 {
				sh.Reason += fmt.Sprintf("; its last progress said %d sent", sh.Sent)
			}
			lost = append(lost, fmt.Sprintf("share %d of %d (worker %s on %s, pid %d): %s", i+1, len(workers), sh.Name, id.Host, id.PID, missing[w]))
		case res.Error != "":
			sh.Verdict, sh.Reason = load.Errored, res.Error
			errs = append(errs, fmt.Sprintf("share %d (worker %s): %s", i+1, sh.Name, res.Error))
		default:
			reps = append(reps, res.Report)
			sh.Sent, sh.Verdict, sh.Reason = res.Report.Total.Sent, res.Report.Verdict, res.Report.Reason
			switch res.Report.Verdict {
			case load.Stopped:
				stops = append(stops, res.Report.Reason)
				if stopped != "" {
					stops[0] = stopped
				}
			case load.Errored:
				errs = append(errs, fmt.Sprintf("share %d (worker %s): %s", i+1, sh.Name, res.Report.Reason))
			case load.Incomplete:
				partial = append(partial, fmt.Sprintf("share %d (worker %s): %s", i+1, sh.Name, res.Report.Reason))
			}
		}
		shares = append(shares, sh)
	}
	var rep *load.Report
	if len(reps) > 0 {
		var err error
		if rep, err = load.Merge(reps); err != nil {
			return nil, err
		}
	} else {
		rep = &load.Report{Started: time.Now().UTC(), Finished: time.Now().UTC()}
	}
	rep.Scenario = cfg.Scenario.Name
	rep.Target = plan.Target
	if s, err := cfg.Rate.Build(cfg.Duration); err == nil {
		rep.Shape = fmt.Sprintf("%s, split among %d workers", s, len(workers))
	}
	rep.Seed = plan.Options.Seed
	rep.Stop = cfg.Stop
	rep.Workers = shares
	rep.Verdict = load.Passed
	switch {
	case len(lost) > 0:
		rep.Verdict = load.Incomplete
		rep.Reason = fmt.Sprintf("%d of %d shares missing, this report holds the others only: %s", len(lost), len(workers), strings.Join(lost, "; "))
	case len(errs) > 0:
		rep.Verdict, rep.Reason = load.Errored, strings.Join(errs, "; ")
	case len(partial) > 0:
		rep.Verdict, rep.Reason = load.Incomplete, strings.Join(partial, "; ")
	case len(stops) > 0:
		rep.Verdict, rep.Reason = load.Stopped, stops[0]
	case rep.Total.Sent > 0 && rep.Total.Responses == 0:
		rep.Verdict, rep.Reason = load.Errored, "no request got a response"
	}
	if cfg.Stop != nil {
		rep.CheckLost(cfg.Stop.MaxLost) // each share kept within it; the sum may not
	}
	rep.Trace = joinTraces(workers, results, c.say)
	return rep, nil
}

// joinTraces is the run's e2e trace: the shares' gzipped traces one after
// another (a gzip reader reads them as one stream). Nil without any.
func joinTraces(workers []string, results map[string]*result, say func(string, ...any)) func(io.Writer) error {
	var parts [][]byte
	for i, w := range workers {
		if res := results[w]; res != nil {
			if res.TraceNote != "" {
				say("share %d (worker %s) has no e2e trace: %s", i+1, shortName(w), res.TraceNote)
			}
			if len(res.Trace) > 0 {
				parts = append(parts, res.Trace)
			}
		}
	}
	if len(parts) == 0 {
		return nil
	}
	return func(out io.Writer) error {
		for _, p := range parts {
			if _, err := out.Write(p); err != nil {
				return err
			}
		}
		return nil
	}
}
