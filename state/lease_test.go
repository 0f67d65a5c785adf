package state_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stack-tools/stack/stack"
	"github.com/stack-tools/stack/state"
	"github.com/stack-tools/stack/stores/localstore"
)

// The tests use short TTLs so renewals come quickly; they wait on what the
// store shows and on channels, with deadlines far above any TTL, and assert
// orders of events, never durations.

const patience = time.Minute

func openStore(t *testing.T) stack.Store {
	t.Helper()
	st, err := localstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// waitFor polls cond until it holds or patience runs out.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(patience); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("gave up waiting for %s", what)
		}
	}
}

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// Issue 20, second symptom: a renewal sent during an outage reached the store
// late; the next renewal met that newer version. It is the holder's own
// write, so the holder goes on.
func TestRenewalMeetingItsOwnLateWriteGoesOn(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	h, err := state.AcquireLease(ctx, st, "s", "up", 600*time.Millisecond, 0, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer h.Release()
	var late string
	waitFor(t, "the late write to land", func() bool {
		data, ver, err := st.Get(ctx, state.LeaseKey("s"))
		if err != nil {
			return false
		}
		late, err = st.Put(ctx, state.LeaseKey("s"), data, ver) // the same lease, a new version
		return err == nil
	})
	waitFor(t, "a renewal after the late write", func() bool {
		_, ver, err := st.Get(ctx, state.LeaseKey("s"))
		return err == nil && ver != late
	})
	if closed(h.Lost) || closed(h.Fenced()) {
		t.Fatal("the holder gave up its lease on meeting its own late write")
	}
	if err := h.Valid(); err != nil {
		t.Fatalf("Valid: %v", err)
	}
}

// Another holder's lease stops the holder: it is fenced, and its writes are
// refused from then on.
func TestRenewalMeetingAnotherHolderStops(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	h, err := state.AcquireLease(ctx, st, "s", "up", 600*time.Millisecond, 0, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer h.Release()
	other, _ := json.Marshal(state.Lease{ID: "someone-else", Host: "elsewhere", Expires: time.Now().Add(time.Hour)})
	if _, err := st.Put(ctx, state.LeaseKey("s"), other, stack.AnyVersion); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the holder to notice", func() bool { return closed(h.Fenced()) && closed(h.Lost) })
	if err := h.Valid(); !errors.Is(err, state.ErrFenced) {
		t.Fatalf("Valid after losing the lease: %v, want ErrFenced", err)
	}
	// Nor does a step's log go up over what the new holder wrote.
	w := state.NewRecordWriter(st, "s", &state.Record{Name: "s"}, "").Under(h)
	if err := w.PutUnder(ctx, state.LogKey("s", "web"), []byte("late")); !errors.Is(err, state.ErrFenced) {
		t.Errorf("a log written after losing the lease: %v, want ErrFenced", err)
	}
	if _, _, err := st.Get(ctx, state.LogKey("s", "web")); !errors.Is(err, stack.ErrNotFound) {
		t.Errorf("the fenced holder's log reached the store (%v)", err)
	}
	h.Release()
	if l, _, err := state.ReadLease(ctx, st, "s"); err != nil || l.ID != "someone-else" {
		t.Fatalf("the other holder's lease after release: %+v, %v", l, err)
	}
}

// holed is a real store behind a network that can swallow every request of
// one client: its calls hang until their context ends.
type holed struct {
	stack.Store
	hole atomic.Bool
}

func (s *holed) Put(ctx context.Context, key string, data []byte, ifMatch string) (string, error) {
	if s.hole.Load() {
		<-ctx.Done()
		return "", ctx.Err()
	}
	return s.Store.Put(ctx, key, data, ifMatch)
}

func (s *holed) Get(ctx context.Context, key string) ([]byte, string, error) {
	if s.hole.Load() {
		<-ctx.Done()
		return nil, "", ctx.Err()
	}
	return s.Store.Get(ctx, key)
}

// A holder cut off from the store is fenced (its runs interrupted, then
// killed by the fence file's deadline) before another host can take the
// lease over: the taker waits the TTL plus the skew margin from the last
// change it saw.
func TestHolderIsFencedBeforeATakerGetsIn(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	cut := &holed{Store: st}
	fenceDir := t.TempDir()
	h, err := state.AcquireLease(ctx, cut, "s", "up", 1200*time.Millisecond, 0, fenceDir)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Release()
	cut.hole.Store(true)
	taken := make(chan time.Time, 1)
	go func() {
		taker, err := state.AcquireLease(ctx, st, "s", "up", 1200*time.Millisecond, patience, t.TempDir())
		if err != nil {
			t.Error(err)
			close(taken)
			return
		}
		taken <- time.Now()
		taker.Release()
	}()
	select {
	case <-h.Fenced():
	case <-taken:
		t.Fatal("the taker got the lease before the holder was fenced")
	case <-time.After(patience):
		t.Fatal("the holder was never fenced")
	}
	fence, err := stack.ReadFenceFile(filepath.Join(fenceDir, filepath.Base(h.FencePath())))
	if err != nil {
		t.Fatal(err)
	}
	at, ok := <-taken
	if !ok {
		return
	}
	if !at.After(fence.KillAt) {
		t.Errorf("the taker got the lease at %s, before the holder's runs are killed (%s)", at.Format(time.StampMilli), fence.KillAt.Local().Format(time.StampMilli))
	}
	if err := h.Valid(); !errors.Is(err, state.ErrFenced) {
		t.Errorf("the cut-off holder may still write: %v", err)
	}
}

// Taking a lease sweeps the fence files killed commands left behind once
// their kill deadline is well past; a live one (a command still holding its
// lease elsewhere on this workstation) stays.
func TestAcquireSweepsStaleFenceFiles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	write := func(name string, kill time.Time) string {
		p := filepath.Join(dir, name)
		b, _ := json.Marshal(stack.FenceFile{Lease: name, InterruptAt: kill, KillAt: kill})
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	stale := write("old.json", time.Now().Add(-time.Hour))
	live := write("live.json", time.Now().Add(time.Hour))
	h, err := state.AcquireLease(ctx, openStore(t), "s", "up", time.Minute, 0, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Release()
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a fence file an hour past its kill deadline is still there (%v)", err)
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("a live fence file was removed: %v", err)
	}
	if _, err := os.Stat(h.FencePath()); err != nil {
		t.Errorf("the new holder's fence file: %v", err)
	}
}
