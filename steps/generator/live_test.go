//go:build unix

package generator_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stack-tools/stack/internal/proc"
	"github.com/stack-tools/stack/stack"
	"github.com/stack-tools/stack/steps/generator"
	"github.com/stack-tools/stack/stores/localstore"
)

// NotRunning judges a persistent run by the mark it keeps in the store (the
// layout docs/load-runs.md gives) or, without one, by the pid file of the
// working copy; only a process on this host can be judged, and a pid that
// now names a process started after the run is not the run.
func TestNotRunningJudgesOnlyWhatThisHostCanSee(t *testing.T) {
	ctx := context.Background()
	st, err := localstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	live := exec.Command("sleep", "60")
	if err := live.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = live.Process.Kill(); _ = live.Wait() })
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	now, host := time.Now().UTC(), proc.Host()
	_, canTell := proc.Started(live.Process.Pid)

	forever := json.RawMessage(`{"scenario": "sms-inbound", "target": "http://127.0.0.1:1/", "rate": 1, "duration": "forever"}`)
	type liveCase struct {
		name    string
		config  json.RawMessage
		mark    map[string]any // nil: none
		pidFile int            // 0: none
		want    string         // "" runs (or cannot tell)
	}
	cases := []liveCase{
		{name: "not persistent", config: json.RawMessage(`{"scenario": "sms-inbound", "target": "http://127.0.0.1:1/", "rate": 1, "duration": "1s"}`),
			mark: map[string]any{"host": host, "pid": dead.Process.Pid}},
		{name: "alive here", config: forever, mark: map[string]any{"host": host, "pid": live.Process.Pid, "started": now}},
		{name: "gone here", config: forever, mark: map[string]any{"host": host, "pid": dead.Process.Pid, "started": now},
			want: "its persistent run (pid " + strconv.Itoa(dead.Process.Pid) + " on " + host + ") no longer runs"},
		{name: "elsewhere", config: forever, mark: map[string]any{"host": "elsewhere", "pid": dead.Process.Pid, "started": now}},
		{name: "no mark, pid file of a gone process", config: forever, pidFile: dead.Process.Pid, want: "no longer runs"},
		{name: "no mark, pid file of a live process", config: forever, pidFile: live.Process.Pid},
		{name: "nothing at all", config: forever},
	}
	if canTell {
		cases = append(cases, liveCase{name: "pid reused", config: forever, mark: map[string]any{"host": host, "pid": live.Process.Pid, "started": now.Add(-time.Hour)},
			want: "pid " + strconv.Itoa(live.Process.Pid) + " is another process now"})
	}
	k := &generator.Kind{}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			run := &stack.StepRun{Stack: "s", Step: "load" + strconv.Itoa(i), Config: c.config, Store: st, WorkDir: t.TempDir()}
			if c.mark != nil {
				b, _ := json.Marshal(c.mark)
				if _, err := st.Put(ctx, "generators/s/"+run.Step+"/run.json", b, stack.AnyVersion); err != nil {
					t.Fatal(err)
				}
			}
			if c.pidFile != 0 {
				dir := filepath.Join(run.WorkDir, "persistent")
				if err := os.MkdirAll(dir, 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, "pid"), []byte(strconv.Itoa(c.pidFile)), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			got, err := k.NotRunning(ctx, run)
			if err != nil {
				t.Fatal(err)
			}
			if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
				t.Errorf("NotRunning = %q, want %q", got, c.want)
			}
		})
	}
}

// After a restart the pid a persistent run had may name another process: a
// down must not signal it.
func TestDestroyDoesNotSignalAPidAnotherProcessReused(t *testing.T) {
	other := exec.Command("sleep", "60")
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = other.Process.Kill(); _ = other.Wait() })
	if _, ok := proc.Started(other.Process.Pid); !ok {
		t.Skip("no process start times on this platform")
	}
	run := &stack.StepRun{Stack: "s", Step: "load", WorkDir: t.TempDir(),
		Config: json.RawMessage(`{"scenario": "sms-inbound", "target": "http://127.0.0.1:1/", "rate": 1, "duration": "forever"}`)}
	dir := filepath.Join(run.WorkDir, "persistent")
	pidFile := filepath.Join(dir, "pid")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(other.Process.Pid)), 0o600); err != nil {
		t.Fatal(err)
	}
	// The run this workstation started an hour ago.
	hourAgo := time.Now().Add(-time.Hour)
	if err := os.Chtimes(pidFile, hourAgo, hourAgo); err != nil {
		t.Fatal(err)
	}
	if err := (&generator.Kind{}).Destroy(context.Background(), run); err != nil {
		t.Fatal(err)
	}
	if !proc.Alive(other.Process.Pid) {
		t.Errorf("down signalled pid %d, which another process had taken", other.Process.Pid)
	}
}
