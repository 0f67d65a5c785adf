package state_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stack-tools/stack/stack"
	"github.com/stack-tools/stack/state"
)

// puts counts the record writes that reach a store; while gate is set, a
// record write waits for it to close.
type puts struct {
	stack.Store
	n    atomic.Int32
	gate chan struct{}
}

func (p *puts) Put(ctx context.Context, key string, data []byte, ifMatch string) (string, error) {
	if strings.HasSuffix(key, "stack.json") {
		p.n.Add(1)
		if p.gate != nil {
			<-p.gate
		}
	}
	return p.Store.Put(ctx, key, data, ifMatch)
}

func newWriter(t *testing.T) (*state.RecordWriter, *puts) {
	t.Helper()
	st := &puts{Store: openStore(t)}
	rec := &state.Record{Name: "wb", Steps: map[string]*state.StepState{}}
	w := state.NewRecordWriter(st, "wb", rec, "")
	if err := w.Update(context.Background(), func(*state.Record) {}); err != nil {
		t.Fatal(err)
	}
	st.n.Store(0)
	return w, st
}

// Updates queued while a write is on its way go out together in the next
// one, in the order queued; Drain writes them all. (The store holds the
// writes until every update is queued, so the count does not depend on how
// fast this machine is.)
func TestWriteBehindBatchesUpdatesNobodyWaitsFor(t *testing.T) {
	w, st := newWriter(t)
	st.gate = make(chan struct{})
	var q state.WriteBehind
	const n = 50
	for i := range n {
		err := q.UpdateStep(context.Background(), w, fmt.Sprintf("s%d", i%5), func(s *state.StepState) {
			s.Progress += fmt.Sprintf("%d,", i)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	close(st.gate)
	if err := q.Drain(); err != nil {
		t.Fatal(err)
	}
	rec, _, err := state.LoadRecord(context.Background(), st, "wb")
	if err != nil {
		t.Fatal(err)
	}
	for j := range 5 {
		var want strings.Builder
		for i := j; i < n; i += 5 {
			fmt.Fprintf(&want, "%d,", i)
		}
		if got := rec.Steps[fmt.Sprintf("s%d", j)].Progress; got != want.String() {
			t.Errorf("step s%d has %q, want %q (every update, in order)", j, got, want.String())
		}
	}
	if got := st.n.Load(); got > 2 {
		t.Errorf("%d updates took %d record writes; queued behind one write, the rest should share the next", n, got)
	}
}

// Written waits for the updates queued so far, and a waiter does not wait
// for a linger to end: its update is written when Written's function returns.
func TestWriteBehindWrittenSeesItsUpdate(t *testing.T) {
	w, st := newWriter(t)
	var q state.WriteBehind
	for i := range 3 {
		if err := q.UpdateStep(context.Background(), w, "a", func(s *state.StepState) { s.Status = state.StatusRunning }); err != nil {
			t.Fatal(err)
		}
		if err := q.Written()(); err != nil {
			t.Fatal(err)
		}
		rec, _, err := state.LoadRecord(context.Background(), st, "wb")
		if err != nil {
			t.Fatal(err)
		}
		if s := rec.Steps["a"]; s == nil || s.Status != state.StatusRunning {
			t.Fatalf("round %d: the store has %+v after Written returned", i, s)
		}
	}
	if err := q.Drain(); err != nil {
		t.Fatal(err)
	}
}
