package fleet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/stack-tools/stack/load"
)

// Worker runs shares of the runs its group's coordinators plan.
type Worker struct {
	Conn
	// AuthToken signs requests of signed scenarios (STACK_AUTH_TOKEN); it must
	// be the coordinator's.
	AuthToken string
	// Identity is published when registering; Host and PID default to this process's.
	Identity Identity
	// Observer sees every response (live Prometheus metrics).
	Observer load.Observer
	// Out receives one line per event (registered, run started, finished).
	Out io.Writer
}

// errGlobalStop ends a share because another share's vote stopped the run.
type errGlobalStop struct{ reason string }

func (e *errGlobalStop) Error() string { return "stopped: " + e.reason }

// Work registers the worker and runs every share it is given until ctx ends.
func (w *Worker) Work(ctx context.Context) error {
	c, err := w.Conn.check()
	if err != nil {
		return err
	}
	w.Conn = c
	if w.Out == nil {
		w.Out = io.Discard
	}
	if w.Identity.Host == "" {
		w.Identity.Host, _ = os.Hostname()
	}
	if w.Identity.PID == 0 {
		w.Identity.PID = os.Getpid()
	}
	conn, err := w.dial(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	g := w.group()
	for _, p := range []string{path.Join(g, "workers"), path.Join(g, "runs")} {
		if err := ensure(conn, p); err != nil {
			return err
		}
	}
	me, err := w.register(conn)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for {
		// A session that expired took the registration with it: register again.
		if ok, _, err := conn.Exists(path.Join(g, "workers", me)); err == nil && !ok {
			if me, err = w.register(conn); err != nil {
				return err
			}
		}
		runs, _, watch, err := conn.ChildrenW(path.Join(g, "runs"))
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			fmt.Fprintf(w.Out, "worker %s: listing runs: %v (retrying)\n", shortName(me), err)
			sleep(ctx, time.Second)
			continue
		}
		w.runShares(ctx, conn, me, runs, seen)
		select {
		case <-ctx.Done():
			return nil
		case <-watch:
		}
	}
}

// register adds the worker to its group and returns its node's name.
func (w *Worker) register(conn *zk.Conn) (string, error) {
	g := w.group()
	id, _ := json.Marshal(w.Identity)
	// The protected form survives a lost connection during the create
	// without leaving a second node behind.
	p, err := conn.CreateProtectedEphemeralSequential(path.Join(g, "workers", "w-"), id, acl)
	if err != nil {
		return "", fmt.Errorf("registering in %s: %w", g, err)
	}
	me := path.Base(p)
	fmt.Fprintf(w.Out, "worker %s registered in group %s at %s\n", shortName(me), w.Group, w.Servers)
	return me, nil
}

// runShares runs, in order, the shares given to worker me in runs it has not
// seen yet.
func (w *Worker) runShares(ctx context.Context, conn *zk.Conn, me string, runs []string, seen map[string]bool) {
	sort.Strings(runs)
	for _, r := range runs {
		if seen[r] {
			continue
		}
		seen[r] = true
		run := path.Join(w.group(), "runs", r)
		data, _, err := conn.Get(run)
		if err != nil {
			continue
		}
		var plan Plan
		if err := json.Unmarshal(data, &plan); err != nil {
			continue
		}
		if part := slices.Index(plan.Workers, me); part >= 0 {
			w.share(ctx, conn, run, me, part, &plan)
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// share runs one part of a plan and writes its result.
func (w *Worker) share(ctx context.Context, conn *zk.Conn, run, me string, part int, plan *Plan) {
	name := shortName(me)
	res := &result{Worker: me, Identity: w.Identity, Part: part}
	defer func() {
		// ZooKeeper may be restarting: keep trying for a minute, as the
		// coordinator waits for the result.
		for try := 0; ; try++ {
			err := writeResult(conn, run, me, res)
			if err == nil {
				break
			}
			if errors.Is(err, zk.ErrNoNode) || try == 30 || ctx.Err() != nil {
				fmt.Fprintf(w.Out, "worker %s: writing the result of %s: %v\n", name, path.Base(run), err)
				break
			}
			sleep(ctx, 2*time.Second)
		}
		_ = conn.Delete(path.Join(run, "ready", me), -1)
	}()
	cfg, err := plan.config(part, w.AuthToken)
	if err != nil {
		res.Error = err.Error()
		return
	}
	fmt.Fprintf(w.Out, "worker %s: run %s, share %d of %d: %s -> %s\n", name, path.Base(run), part+1, len(plan.Workers), cfg.Scenario.Name, cfg.Target)
	if _, err := conn.Create(path.Join(run, "ready", me), nil, zk.FlagEphemeral, acl); err != nil {
		res.Error = fmt.Sprintf("joining the barrier: %v", err)
		return
	}
	wctx, cancelWait := context.WithTimeout(ctx, max(time.Duration(plan.StartWithin), time.Minute))
	st, err := waitStart(wctx, conn, run)
	cancelWait()
	if err != nil {
		res.Error = err.Error()
		return
	}
	in := false
	for _, p := range st.Parts {
		in = in || p == me
	}
	if !in {
		res.Error = "the run started without this worker: it was not ready in time"
		return
	}
	cfg.StartAt = st.At
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go watchStop(runCtx, conn, run, cancel)
	pub := newPublisher(conn, path.Join(run, "progress", me))
	defer pub.close()
	voted := false
	cfg.Progress = func(p load.Progress) {
		pub.set(progress{Elapsed: p.Elapsed.Seconds(), Sent: p.Sent, Responses: p.Responses, Success: p.Success,
			Late: p.Late, InFlight: p.InFlight, Rate: p.WindowRate})
		if cfg.Stop != nil && p.Votes >= cfg.Stop.Votes && !voted {
			voted = true
			reason := fmt.Sprintf("stopped by vote of share %d (worker %s on %s) after %.0fs: %d unhealthy windows outweighed healthy ones",
				part+1, name, w.Identity.Host, p.Elapsed.Seconds(), p.Votes)
			go func() { _, _ = conn.Create(path.Join(run, "stop"), []byte(reason), 0, acl) }()
		}
	}
	cfg.Observer = w.Observer
	rep, err := load.Run(runCtx, cfg)
	if err != nil {
		res.Error = err.Error()
		return
	}
	var gs *errGlobalStop
	if errors.As(context.Cause(runCtx), &gs) && rep.Verdict == load.Errored && ctx.Err() == nil {
		rep.Verdict, rep.Reason = load.Stopped, gs.reason
	}
	res.set(rep)
	fmt.Fprintf(w.Out, "worker %s: run %s %s: sent %d, success %.2f%%\n", name, path.Base(run), rep.Verdict, rep.Total.Sent, 100*rep.Total.SuccessRatio)
}

// waitStart waits at the barrier for the coordinator's start.
func waitStart(ctx context.Context, conn *zk.Conn, run string) (*start, error) {
	p := path.Join(run, "start")
	for {
		ok, _, watch, err := conn.ExistsW(p)
		if err != nil {
			return nil, fmt.Errorf("waiting for the start: %w", err)
		}
		if ok {
			data, _, err := conn.Get(p)
			if err != nil {
				return nil, fmt.Errorf("reading the start: %w", err)
			}
			var st start
			if err := json.Unmarshal(data, &st); err != nil {
				return nil, fmt.Errorf("reading the start: %w", err)
			}
			return &st, nil
		}
		if exists, _, _ := conn.Exists(run); !exists {
			return nil, errors.New("the run was cancelled before it started")
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return nil, errors.New("no start came from the coordinator in time: it is gone or gave up on this worker")
			}
			return nil, ctx.Err()
		case <-watch:
		case <-time.After(10 * time.Second): // re-check that the run still exists
		}
	}
}

// watchStop cancels the share when any share (or the coordinator) writes stop.
func watchStop(ctx context.Context, conn *zk.Conn, run string, cancel context.CancelCauseFunc) {
	p := path.Join(run, "stop")
	for ctx.Err() == nil {
		ok, _, watch, err := conn.ExistsW(p)
		if err != nil {
			sleep(ctx, time.Second)
			continue
		}
		if ok {
			data, _, _ := conn.Get(p)
			cancel(&errGlobalStop{reason: string(data)})
			return
		}
		select {
		case <-ctx.Done():
		case <-watch:
		}
	}
}

// publisher writes the latest progress without holding up the caller.
type publisher struct {
	ch   chan progress
	done chan struct{}
}

func newPublisher(conn *zk.Conn, p string) *publisher {
	pub := &publisher{ch: make(chan progress, 1), done: make(chan struct{})}
	go func() {
		defer close(pub.done)
		created := false
		for pr := range pub.ch {
			b, _ := json.Marshal(pr)
			if !created {
				if _, err := conn.Create(p, b, 0, acl); err == nil || errors.Is(err, zk.ErrNodeExists) {
					created = true
					if err == nil {
						continue
					}
				}
			}
			_, _ = conn.Set(p, b, -1)
		}
	}()
	return pub
}

func (p *publisher) set(pr progress) {
	select {
	case <-p.ch: // drop the older value
	default:
	}
	p.ch <- pr
}

func (p *publisher) close() {
	close(p.ch)
	<-p.done
}

// writeResult stores the result in chunks, then the done marker.
func writeResult(conn *zk.Conn, run, me string, res *result) error {
	b, err := json.Marshal(res)
	if err != nil {
		return err
	}
	n := 0
	for off := 0; off < len(b) || n == 0; off += chunk {
		end := min(off+chunk, len(b))
		p := path.Join(run, "results", me+"-"+fmt.Sprintf("%04d", n))
		if _, err := conn.Create(p, b[off:end], 0, acl); err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return err
		}
		n++
	}
	_, err = conn.Create(path.Join(run, "done", me), []byte(strconv.Itoa(n)), 0, acl)
	return err
}

// set puts rep in the result with the histograms its JSON leaves out.
func (res *result) set(rep *load.Report) {
	res.Report, res.Hist = rep, rep.Hist
	for _, win := range rep.Windows {
		res.WindowHists = append(res.WindowHists, win.Hist)
	}
	if rep.E2E != nil {
		res.E2EHist = rep.E2E.Hist
		for _, win := range rep.E2E.Windows {
			res.E2EWindowHists = append(res.E2EWindowHists, win.Hist)
		}
	}
	if rep.Trace != nil {
		var buf bytes.Buffer
		switch err := rep.WriteTrace(&buf); {
		case err != nil:
			res.TraceNote = "writing its trace: " + err.Error()
		case buf.Len() > maxTrace:
			res.TraceNote = fmt.Sprintf("its trace (%d MiB) is too big to pass through ZooKeeper", buf.Len()>>20)
		default:
			res.Trace = buf.Bytes()
		}
	}
}
