package load_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stack-tools/stack/load"
	"github.com/stack-tools/stack/load/pace"
	"github.com/stack-tools/stack/load/scenario"
)

// A persistent run has no end of its own: it rolls its report out (each roll
// with the windows since the last one and the totals so far) until it is
// stopped, and being stopped is a pass. Every window is in exactly one
// roll or the final report.
func TestPersistentRunRollsUntilStopped(t *testing.T) {
	var got atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { got.Add(1) }))
	defer srv.Close()
	var mu sync.Mutex
	var rolls []*load.Report
	rolled := make(chan struct{}, 100)
	cfg := load.Config{Scenario: loadScenario(t, brokerScenario), Target: srv.URL, Rate: pace.Spec{Rate: 100},
		Options: scenario.Options{Seed: 9},
		Forever: &load.Persistent{RollEvery: 30 * time.Millisecond, Roll: func(r *load.Report) {
			mu.Lock()
			rolls = append(rolls, r)
			mu.Unlock()
			select {
			case rolled <- struct{}{}:
			default:
			}
		}}}
	ctx, cancel := context.WithCancelCause(context.Background())
	done := make(chan *load.Report, 1)
	go func() {
		rep, err := load.Run(ctx, cfg)
		if err != nil {
			t.Error(err)
		}
		done <- rep
	}()
	for range 3 {
		select {
		case <-rolled:
		case <-time.After(2 * time.Minute): // bounds a broken run only
			t.Fatal("no roll")
		}
	}
	cancel(errors.New("SIGTERM"))
	rep := <-done
	if rep == nil {
		t.Fatal("no report")
	}
	if rep.Verdict != load.Passed || rep.Reason != "stopped: SIGTERM" {
		t.Errorf("verdict %s (%s), want passed on being stopped", rep.Verdict, rep.Reason)
	}
	mu.Lock()
	defer mu.Unlock()
	var inWindows, last uint64
	for i, r := range append(rolls, rep) {
		for _, w := range r.Windows {
			inWindows += w.Total.Sent
		}
		if r.Total.Sent < last {
			t.Errorf("roll %d: running total went down from %d to %d", i, last, r.Total.Sent)
		}
		last = r.Total.Sent
	}
	if inWindows != rep.Total.Sent || rep.Total.Sent == 0 {
		t.Errorf("windows hold %d sent, the run %d", inWindows, rep.Total.Sent)
	}
	if n := uint64(got.Load()); n < rep.Total.Success || n > rep.Total.Sent {
		t.Errorf("the target got %d, the run sent %d with %d successes", n, rep.Total.Sent, rep.Total.Success)
	}
}

func TestPersistentRunTakesNoEnd(t *testing.T) {
	_, err := load.Run(context.Background(), load.Config{Scenario: loadScenario(t, brokerScenario), Target: "http://127.0.0.1:1",
		Rate: pace.Spec{Rate: 1}, Requests: 5, Forever: &load.Persistent{}})
	if err == nil {
		t.Error("a persistent run with a request count started")
	}
}
