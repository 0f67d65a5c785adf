package e2e_test

import (
	"context"
	"io"
	"os"
	"sync"
	"testing"

	"github.com/stack-tools/stack/internal/testenv"
	"github.com/stack-tools/stack/load"
	"github.com/stack-tools/stack/load/fleet"
	"github.com/stack-tools/stack/load/scenario"
)

// zookeeper starts the package's ZooKeeper on first use (TestMain stops it).
var zookeeper = sync.OnceValues(func() (*testenv.ZooKeeper, error) {
	dir, err := os.MkdirTemp("", "stack-e2e-zk-")
	if err != nil {
		return nil, err
	}
	z, err := testenv.StartZooKeeper(dir)
	stops = append(stops, func() {
		if z != nil {
			_ = z.Stop()
		}
		os.RemoveAll(dir)
	})
	return z, err
})

var stops []func()

func TestFleetOfTwoNamesTheSameLostAndDuplicated(t *testing.T) {
	z, err := zookeeper()
	if err != nil {
		testenv.Missing(t, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := newRig(t, ctx)
	conn := fleet.Conn{Servers: z.Addr(), Group: "e2e-fleet"}
	var wg sync.WaitGroup
	wctx, stopWorkers := context.WithCancel(ctx)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := &fleet.Worker{Conn: conn, Out: io.Discard}
			_ = w.Work(wctx)
		}()
	}
	defer func() { stopWorkers(); wg.Wait() }()
	cfg := r.config(t, 160)
	rep, err := (&fleet.Coordinator{Conn: conn, Count: 2}).Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Verdict != load.Passed || rep.E2E == nil || len(rep.Workers) != 2 {
		t.Fatalf("verdict %s (%s), e2e %v, %d workers", rep.Verdict, rep.Reason, rep.E2E != nil, len(rep.Workers))
	}
	checkSets(t, rep, r.pipe)
	// Both shares' messages are among the lost and duplicated.
	parts := map[int]bool{}
	for _, ts := range rep.E2E.Types {
		for _, id := range append(ts.LostIDs, ts.DupIDs...) {
			c := scenario.IDCodec{Format: cfg.Scenario.MessageID, Run: runOf(t, id)}
			p, _, _ := c.Parse([]byte(id))
			parts[p] = true
		}
	}
	if !parts[0] || !parts[1] {
		t.Errorf("lost and duplicated ids come from shares %v, want both", parts)
	}
}

// runOf reads the run part of a UUID-shaped run id.
func runOf(t *testing.T, id string) uint64 {
	t.Helper()
	var run uint64
	hex := id[0:8] + id[9:13] + id[14:18]
	for _, c := range hex {
		run <<= 4
		switch {
		case c >= '0' && c <= '9':
			run |= uint64(c - '0')
		default:
			run |= uint64(c-'a') + 10
		}
	}
	return run
}
