package e2e_test

import (
	"bytes"
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/stack-tools/stack/load"
	"github.com/stack-tools/stack/load/e2e"
	"github.com/stack-tools/stack/load/pace"
	"github.com/stack-tools/stack/load/probe"
)

// Replies that carry only the sender's number (an SMS auto-reply) are
// matched by sender: with a sender per message, exactly the dropped messages
// are lost. An arrival of another run counts as unexpected.
func TestCorrelateBySenderAndCountUnexpected(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	probeURL := startProbe(t, ctx, probe.Options{Name: "replies"})
	t.Cleanup(cancel)
	p := newPipeline()
	p.delay, p.hookURL, p.dropEvery, p.bySender = map[string]time.Duration{"hook": 20 * time.Millisecond}, probeURL+"/outbound", 5, true
	pl := listen(t)
	srv := &http.Server{Handler: p}
	go srv.Serve(pl)
	t.Cleanup(func() { p.wg.Wait(); srv.Close() })

	cfg := hookOnly(t, "http://"+pl.Addr().String(), "replies", probeURL, 30)
	cfg.Options.Senders = 1000 // a sender has one message in flight at most (almost surely none twice)
	cfg.E2E.Probes[0].Match = []e2e.Rule{{Form: "To", By: "sender.phone"}}
	cfg.E2E.Wait = pace.Duration(3 * time.Second)
	// Another run's message arrives at the probe before the run ends.
	go func() {
		time.Sleep(100 * time.Millisecond)
		resp, err := http.Post(probeURL+"/outbound", "application/x-www-form-urlencoded", bytes.NewBufferString("To=%2B19995550000&Body=hi"))
		if err == nil {
			resp.Body.Close()
		}
	}()
	rep, err := load.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	hook := rep.E2E.Types[0]
	p.mu.Lock()
	dropped := sorted(keys(p.dropped))
	p.mu.Unlock()
	if got := sorted(hook.LostIDs); !slices.Equal(got, dropped) || hook.Arrived != hook.Messages-uint64(len(dropped)) {
		t.Errorf("lost %v, the pipeline dropped %v; arrived %d of %d", got, dropped, hook.Arrived, hook.Messages)
	}
	if rep.E2E.Unexpected != 1 {
		t.Errorf("unexpected %d %v, want the other run's reply", rep.E2E.Unexpected, rep.E2E.UnexpectedSamples)
	}
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
