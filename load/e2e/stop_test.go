package e2e_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stack-tools/stack/load"
	"github.com/stack-tools/stack/load/pace"
	"github.com/stack-tools/stack/load/probe"
)

// slowPipeline serves a pipeline whose hooks take delay, into a fresh probe.
func slowPipeline(t *testing.T, delay time.Duration, dropEvery int) (target, probeURL string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	probeURL = startProbe(t, ctx, probe.Options{Name: "hooks"})
	t.Cleanup(cancel) // runs before startProbe's cleanup, which waits for the probe to end
	p := newPipeline()
	p.delay = map[string]time.Duration{"hook": delay}
	p.hookURL, p.dropEvery = probeURL+"/outbound", dropEvery
	pl := listen(t)
	srv := &http.Server{Handler: p}
	go srv.Serve(pl)
	t.Cleanup(func() { p.wg.Wait(); srv.Close() })
	return "http://" + pl.Addr().String(), probeURL
}

// Every hook takes 300ms, above the 100ms bound: the windows vote and the
// run stops, naming the far end. (Every arrival is over the bound however
// slow the machine: nothing here depends on timing.)
func TestMaxE2ELatencyStopsTheRun(t *testing.T) {
	target, probeURL := slowPipeline(t, 300*time.Millisecond, 0)
	cfg := hookOnly(t, target, "hooks", probeURL, 400)
	cfg.Rate = pace.Spec{Rate: 100}
	cfg.Stop = &load.StopPolicy{MaxE2ELatency: pace.Duration(100 * time.Millisecond), Votes: 2, Window: pace.Duration(200 * time.Millisecond)}
	cfg.E2E.Wait = pace.Duration(2 * time.Second)
	rep, err := load.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Verdict != load.Stopped || !strings.Contains(rep.Reason, "e2e") || rep.Total.Sent >= 400 {
		t.Fatalf("verdict %s (%s) after %d sent, want stopped by the e2e bound", rep.Verdict, rep.Reason, rep.Total.Sent)
	}
}

// One lost hook in four, max_lost 0: the run fails at its end, naming the ids.
func TestMaxLostFailsTheRun(t *testing.T) {
	target, probeURL := slowPipeline(t, 10*time.Millisecond, 4)
	cfg := hookOnly(t, target, "hooks", probeURL, 40)
	zero := 0
	cfg.Stop = &load.StopPolicy{MaxLost: &zero}
	cfg.E2E.Wait = pace.Duration(2 * time.Second)
	rep, err := load.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Verdict != load.Stopped || !strings.Contains(rep.Reason, "10 arrivals lost > max_lost 0") {
		t.Fatalf("verdict %s (%s), want stopped: 10 lost", rep.Verdict, rep.Reason)
	}
}
