package flow

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
)

// log records the order tasks start and end in.
type log struct {
	mu     sync.Mutex
	events []string
}

func (l *log) add(e string) {
	l.mu.Lock()
	l.events = append(l.events, e)
	l.mu.Unlock()
}

func (l *log) index(e string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Index(l.events, e)
}

func TestDependentsStartAfterTheirNeeds(t *testing.T) {
	// a -> b -> d, a -> c -> d
	tasks := []Task{
		{Name: "d", Needs: map[string]Gate{"b": Done, "c": Done}},
		{Name: "b", Needs: map[string]Gate{"a": Done}},
		{Name: "c", Needs: map[string]Gate{"a": Done}},
		{Name: "a"},
	}
	var l log
	failed := Run(context.Background(), tasks, 4, func(_ context.Context, name string, _ func(Gate)) error {
		l.add("start " + name)
		l.add("end " + name)
		return nil
	})
	if len(failed) != 0 {
		t.Fatalf("failures: %v", failed)
	}
	for _, e := range [][2]string{{"end a", "start b"}, {"end a", "start c"}, {"end b", "start d"}, {"end c", "start d"}} {
		if l.index(e[0]) > l.index(e[1]) || l.index(e[0]) < 0 {
			t.Errorf("%s after %s: %v", e[0], e[1], l.events)
		}
	}
}

func TestParallelOneFollowsTheGivenOrder(t *testing.T) {
	var l log
	Run(context.Background(), Independent([]string{"x", "y", "z"}), 1, func(_ context.Context, name string, _ func(Gate)) error {
		l.add(name)
		return nil
	})
	if got := strings.Join(l.events, ","); got != "x,y,z" {
		t.Errorf("order %s, want x,y,z", got)
	}
}

func TestOutputsGateStartsDependentWhileUpstreamRuns(t *testing.T) {
	tasks := []Task{{Name: "up"}, {Name: "down", Needs: map[string]Gate{"up": Outputs}}}
	downRan := make(chan struct{})
	failed := Run(context.Background(), tasks, 2, func(_ context.Context, name string, release func(Gate)) error {
		if name == "down" {
			close(downRan)
			return nil
		}
		release(Outputs)
		<-downRan // up ends only once down has run: it must not wait for up
		return nil
	})
	if len(failed) != 0 {
		t.Fatal(failed)
	}
}

func TestDoneReleasedEarlyFreesTheSlot(t *testing.T) {
	// With one slot, b can only run while a is still in its tail if a
	// released Done.
	bRan := make(chan struct{})
	Run(context.Background(), Independent([]string{"a", "b"}), 1, func(_ context.Context, name string, release func(Gate)) error {
		if name == "b" {
			close(bRan)
			return nil
		}
		release(Done)
		<-bRan
		return nil
	})
}

func TestParallelismIsHonouredAndUsed(t *testing.T) {
	const par = 3
	names := []string{"a", "b", "c", "d", "e", "f", "g"}
	var mu sync.Mutex
	running, most := 0, 0
	full := make(chan struct{})
	var once sync.Once
	Run(context.Background(), Independent(names), par, func(_ context.Context, _ string, _ func(Gate)) error {
		mu.Lock()
		running++
		most = max(most, running)
		if running == par {
			once.Do(func() { close(full) })
		}
		mu.Unlock()
		<-full // nobody ends before par run at once
		mu.Lock()
		running--
		mu.Unlock()
		return nil
	})
	if most != par {
		t.Errorf("at most %d ran at once, want %d", most, par)
	}
}

func TestFailureStartsNothingNewAndWaitsForRunning(t *testing.T) {
	// a fails while b runs; c (after nothing) must not start, b must finish.
	tasks := []Task{{Name: "a"}, {Name: "b"}, {Name: "c"}, {Name: "d", Needs: map[string]Gate{"a": Done}}}
	var l log
	bStarted := make(chan struct{})
	aFailed := make(chan struct{})
	failed := Run(context.Background(), tasks, 2, func(_ context.Context, name string, _ func(Gate)) error {
		l.add("start " + name)
		switch name {
		case "a":
			<-bStarted
			defer close(aFailed)
			return errors.New("boom")
		case "b":
			close(bStarted)
			<-aFailed
			l.add("end b")
		}
		return nil
	})
	if failed["a"] != "boom" || len(failed) != 1 {
		t.Errorf("failures %v, want a: boom", failed)
	}
	if l.index("start c") >= 0 || l.index("start d") >= 0 {
		t.Errorf("tasks started after a failure: %v", l.events)
	}
	if l.index("end b") < 0 {
		t.Errorf("b was not waited for: %v", l.events)
	}
}

func TestCancellationStopsNewStarts(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var l log
	failed := Run(ctx, Independent([]string{"a", "b", "c"}), 1, func(ctx context.Context, name string, _ func(Gate)) error {
		l.add(name)
		cancel()
		return ctx.Err()
	})
	if got := strings.Join(l.events, ","); got != "a" {
		t.Errorf("ran %s after cancelling, want only a", got)
	}
	if failed["a"] == "" {
		t.Errorf("a's cancellation not reported: %v", failed)
	}
}

func TestPanicFailsOnlyItsTask(t *testing.T) {
	failed := Run(context.Background(), Independent([]string{"ok", "bad"}), 2, func(_ context.Context, name string, _ func(Gate)) error {
		if name == "bad" {
			panic("kind bug")
		}
		return nil
	})
	if !strings.Contains(failed["bad"], "internal error") || !strings.Contains(failed["bad"], "kind bug") || failed["ok"] != "" {
		t.Errorf("failures %v", failed)
	}
}

func TestNeedsOutsideTheTasksAreIgnored(t *testing.T) {
	ran := false
	Run(context.Background(), []Task{{Name: "b", Needs: map[string]Gate{"applied-before": Done}}}, 1,
		func(context.Context, string, func(Gate)) error { ran = true; return nil })
	if !ran {
		t.Error("a task whose upstream is not in the run never started")
	}
}
