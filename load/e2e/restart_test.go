package e2e_test

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stack-tools/stack/load"
	"github.com/stack-tools/stack/load/e2e"
	"github.com/stack-tools/stack/load/pace"
	"github.com/stack-tools/stack/load/probe"
	"github.com/stack-tools/stack/load/scenario"
)

// childProbe runs this test binary as an HTTP probe on addr (see TestMain).
func childProbe(t *testing.T, addr, journal string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "E2E_TEST_PROBE_ADDR="+addr, "E2E_TEST_PROBE_JOURNAL="+journal)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	src := probe.Source{Name: "child", URL: "http://" + addr}
	for try := 0; ; try++ {
		if _, _, err := src.Pull(context.Background(), 0, 0); err == nil {
			return cmd
		} else if try > 3000 { // 30s: a busy machine starts processes slowly
			t.Fatalf("the probe child does not answer: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func hookOnly(t *testing.T, target, probeName, probeURL string, n uint64) load.Config {
	return load.Config{Scenario: testScenario(t), Target: target, Rate: pace.Spec{Rate: 100}, Requests: n,
		Options: scenario.Options{Seed: 11, Skip: []string{"mail", "queue", "quiet"}},
		E2E: &e2e.Config{Probes: []e2e.Probe{{Name: probeName, URL: probeURL, Match: []e2e.Rule{{Header: "X-Ref"}}}},
			Expect: map[string]int{"hook": 1}, Wait: pace.Duration(8 * time.Second), Poll: pace.Duration(100 * time.Millisecond)}}
}

func TestProbeKilledMidRunLosesNothing(t *testing.T) {
	l := listen(t)
	addr := l.Addr().String()
	l.Close()
	journal := filepath.Join(t.TempDir(), "journal")
	child := childProbe(t, addr, journal)
	var mu sync.Mutex
	t.Cleanup(func() { mu.Lock(); child.Process.Kill(); child.Wait(); mu.Unlock() })

	p := newPipeline()
	p.delay, p.hookURL = delays, "http://"+addr+"/outbound"
	var once sync.Once
	restarted := make(chan struct{})
	p.afterHook = func(n int) {
		if n < 20 {
			return
		}
		once.Do(func() {
			go func() {
				mu.Lock()
				child.Process.Kill() // SIGKILL: no shutdown, no flush
				child.Wait()
				child = childProbe(t, addr, journal)
				mu.Unlock()
				close(restarted)
			}()
		})
	}
	pl := listen(t)
	srv := &http.Server{Handler: p}
	go srv.Serve(pl)
	t.Cleanup(func() { p.wg.Wait(); srv.Close() })

	rep, err := load.Run(context.Background(), hookOnly(t, "http://"+pl.Addr().String(), "child", "http://"+addr, 80))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-restarted:
	default:
		t.Fatal("the probe was never killed: the pipeline delivered fewer than 20 hooks")
	}
	hook := rep.E2E.Types[0]
	if rep.Verdict != load.Passed || hook.Lost != 0 || hook.Arrived != hook.Messages || hook.Messages == 0 {
		t.Fatalf("verdict %s (%s): %d messages, %d arrived, %d lost %v", rep.Verdict, rep.Reason, hook.Messages, hook.Arrived, hook.Lost, hook.LostIDs)
	}
	// Every delivery the probe acknowledged is in its journal.
	_, n, err := (&probe.Source{Name: "child", URL: "http://" + addr}).Pull(context.Background(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	// (A delivery recorded just before the kill, whose answer the kill cut
	// off, is delivered again: at least once, so the journal may hold up to
	// one more per failed delivery, never fewer.)
	p.mu.Lock()
	acked, failed := uint64(p.hookDone), uint64(p.deliveryErrs)
	p.mu.Unlock()
	if n < acked || n > acked+failed {
		t.Errorf("journal holds %d arrivals, the probe acknowledged %d (delivery errors while it was down: %d)", n, acked, failed)
	}
}

func TestProbeGoneMidRunIsIncomplete(t *testing.T) {
	pctx, stopProbe := context.WithCancel(context.Background())
	probeURL := startProbe(t, pctx, probe.Options{Name: "gone"})
	p := newPipeline()
	p.delay, p.hookURL, p.giveUp = delays, probeURL+"/outbound", 10
	var once sync.Once
	p.afterHook = func(n int) {
		if n >= 10 {
			once.Do(stopProbe)
		}
	}
	pl := listen(t)
	srv := &http.Server{Handler: p}
	go srv.Serve(pl)
	t.Cleanup(func() { p.wg.Wait(); srv.Close() })

	cfg := hookOnly(t, "http://"+pl.Addr().String(), "gone", probeURL, 60)
	cfg.E2E.Wait = pace.Duration(2 * time.Second)
	rep, err := load.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Verdict != load.Incomplete || !strings.Contains(rep.Reason, "probe gone") || rep.E2E.Incomplete == "" {
		t.Fatalf("verdict %s (%s), want incomplete naming the probe", rep.Verdict, rep.Reason)
	}
}
