package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stack-tools/stack/internal/proc"
)

// A wrong broker flag is a usage error (exit 2) that names the flag.
func TestLoadKafkaFlagErrors(t *testing.T) {
	w := newWorkstation(t, t.TempDir())
	for flag, want := range map[string]string{
		"--kafka-acks=some":       `--kafka-acks "some": use all`,
		"--kafka-compression=rar": `--kafka-compression "rar"`,
		"--kafka-key={{.Sender":   `--kafka-key`,
		"--kafka-batch-bytes=-1":  `--kafka-batch-bytes must be positive`,
	} {
		r := w.run("load", "--scenario", "sms-inbound", "--target", "kafka://127.0.0.1:1/t", "--rate", "1", "--requests", "1", flag)
		if r.code != 2 || !strings.Contains(r.stderr, want) {
			t.Errorf("%s: exit %d, stderr %q; want 2 and %q", flag, r.code, r.stderr, want)
		}
	}
}

// --senders-file sends as the listed senders only; a bad list is a usage
// error (exit 2) naming the file and its bad lines, and nothing is sent.
func TestLoadSendersFile(t *testing.T) {
	var mu sync.Mutex
	from := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		mu.Lock()
		from[r.PostForm.Get("From")]++
		mu.Unlock()
	}))
	defer srv.Close()
	dir := t.TempDir()
	good := filepath.Join(dir, "numbers.csv")
	bad := filepath.Join(dir, "bad.csv")
	if err := os.WriteFile(good, []byte("phone,name\n+15550100001,Ada\n+15550100002,Alan\n+15550100003,Grace\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("phone,name\n+15550100001,Ada\n5550100,Bob\n+15550100001,Ada again\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	w := newWorkstation(t, t.TempDir())
	args := []string{"load", "--scenario", "sms-inbound", "--target", srv.URL + "/sms", "--rate", "200", "--requests", "60", "--report-dir", ""}
	r := w.run(append(args, "--senders-file", bad)...)
	if r.code != 2 || !strings.Contains(r.stderr, "line 3: phone \"5550100\" is not in E.164") || !strings.Contains(r.stderr, "line 4: phone +15550100001 repeats line 2") {
		t.Errorf("bad list: exit %d\n%s", r.code, r.stderr)
	}
	mu.Lock()
	if len(from) != 0 {
		t.Errorf("a bad list still sent %v", from)
	}
	mu.Unlock()
	w.must(append(args, "--senders-file", good)...)
	mu.Lock()
	defer mu.Unlock()
	total := 0
	for f, n := range from {
		if !strings.HasPrefix(f, "+1555010000") {
			t.Errorf("%d messages from %q, not a listed sender", n, f)
		}
		total += n
	}
	if total != 60 || len(from) < 2 {
		t.Errorf("from %v", from)
	}
}

// --targets-file replays recorded requests (Vegeta's http format or JSON
// lines) on the schedule: once, or looping up to --requests; a bad file is
// a usage error naming its lines.
func TestLoadTargetsFile(t *testing.T) {
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, r.Method+" "+r.URL.RequestURI()+" "+r.Header.Get("X-Test")+" "+string(b))
		mu.Unlock()
	}))
	defer srv.Close()
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("body.json", `{"hello": 1}`)
	httpFile := write("targets.http", "GET "+srv.URL+"/a\n\nPOST "+srv.URL+"/b\nX-Test: yes\n@body.json\n\nGET "+srv.URL+"/c?x=1\n")
	jsonFile := write("targets.jsonl", `{"method": "PUT", "url": "`+srv.URL+`/d", "body": "aGk=", "header": {"X-Test": ["j"]}}`+"\n")
	badFile := write("bad.jsonl", `{"method": "GET", "url": "`+srv.URL+`/ok"}`+"\n"+`{"method": "GET", "url": "/relative"}`+"\n"+`{"method": "GET", "url": `+"\n")
	take := func() []string {
		mu.Lock()
		defer mu.Unlock()
		out := got
		got = nil
		sort.Strings(out)
		return out
	}
	w := newWorkstation(t, t.TempDir())
	base := []string{"load", "--rate", "100", "--report-dir", ""}

	w.must(append(base, "--targets-file", httpFile)...)
	if g := strings.Join(take(), "|"); g != `GET /a  |GET /c?x=1  |POST /b yes {"hello": 1}` {
		t.Errorf("once through the http format: %s", g)
	}
	w.must(append(base, "--targets-file", jsonFile, "--targets-loop", "--requests", "4")...)
	if g := take(); len(g) != 4 || g[0] != "PUT /d j hi" || g[3] != g[0] {
		t.Errorf("looping JSON lines: %v", g)
	}
	r := w.run(append(base, "--targets-file", badFile)...)
	if r.code != 2 || !strings.Contains(r.stderr, "2 bad targets") || !strings.Contains(r.stderr, "line 2: url \"/relative\"") || !strings.Contains(r.stderr, "line 3:") {
		t.Errorf("bad file: exit %d\n%s", r.code, r.stderr)
	}
	if r := w.run(append(base, "--targets-file", httpFile, "--target", srv.URL)...); r.code != 2 || !strings.Contains(r.stderr, "not both") {
		t.Errorf("--target with --targets-file: exit %d %s", r.code, r.stderr)
	}
	if g := take(); len(g) != 0 {
		t.Errorf("refused runs sent %v", g)
	}
}

// `stack load --duration 0` runs until SIGTERM: it rolls its report out
// while it runs, and on SIGTERM writes the last report and exits 0.
func TestLoadUntilSIGTERM(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no SIGTERM")
	}
	var got atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { got.Add(1) }))
	defer srv.Close()
	reports := t.TempDir()
	w := newWorkstation(t, t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute) // bounds a broken run only
	defer cancel()
	cmd := w.cmd(ctx, nil, "load", "--scenario", "sms-inbound", "--target", srv.URL+"/sms", "--rate", "50",
		"--duration", "0", "--roll-every", "50ms", "--report-dir", reports)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for {
		rolled, _ := filepath.Glob(filepath.Join(reports, "load-report-*.json"))
		if len(rolled) >= 2 && got.Load() > 0 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("no rolled reports\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("after SIGTERM: %v\n%s", err, stderr.String())
	}
	var rep struct {
		Verdict, Reason string
		Total           struct{ Sent uint64 }
	}
	b, err := os.ReadFile(filepath.Join(reports, "load-report.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Verdict != "passed" || !strings.HasPrefix(rep.Reason, "stopped") || rep.Total.Sent == 0 {
		t.Errorf("last report: %+v", rep)
	}
	if _, err := os.Stat(filepath.Join(reports, "load-summary.json")); err != nil {
		t.Errorf("no running summary: %v", err)
	}
}

// A generator step with "duration": "forever" keeps sending after `up`
// returned, in a process of its own; `down` stops it, and its last report
// is kept (in the user's cache folder: down removes the stack's state).
func TestPersistentGeneratorStepStopsOnDown(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no SIGTERM")
	}
	tr := newTrickle(t)
	w := newWorkstation(t, t.TempDir())
	pid := tr.upSending(t, w)
	w.must("down", "trickle")
	if proc.Alive(pid) {
		t.Errorf("pid %d still runs after down", pid)
	}
	reports := []string{filepath.Join(w.home, ".cache", "stack", "reports", "trickle", "load", "load-report.json")}
	b, _ := os.ReadFile(reports[0])
	if !strings.Contains(string(b), `"verdict": "passed"`) {
		t.Errorf("last report: %.300s", b)
	}
}

// A persistent generator step started on one workstation is stopped by a
// `down` on another, which cannot signal it: the run reads its mark in the
// shared store, sees it gone, stops with its last report where it runs, and
// says so in the store; the other workstation's down waits for that word.
func TestPersistentGeneratorStepStopsOnDownFromAnotherWorkstation(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no SIGTERM")
	}
	tr := newTrickle(t)
	state := filepath.Join(t.TempDir(), "state")
	fast := "STACK_GENERATOR_CHECK_EVERY=200ms"
	a := newWorkstation(t, state, proc.HostEnv+"=hostA", fast)
	b := newWorkstation(t, state, proc.HostEnv+"=hostB", fast)
	pid := tr.upSending(t, a)
	r := b.run("down", "trickle")
	if r.code != 0 {
		t.Fatalf("hostB's down: exit %d\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr+r.stdout, "persistent run on hostA (pid "+strconv.Itoa(pid)+") stopped") {
		t.Errorf("hostB's down does not say the run on hostA stopped:\n%s%s", r.stdout, r.stderr)
	}
	if !exits(pid) {
		t.Fatalf("pid %d still runs after hostB's down", pid)
	}
	sent := tr.got.Load()
	reports := filepath.Join(a.home, ".cache", "stack", "reports", "trickle", "load", "load-report.json")
	if b, _ := os.ReadFile(reports); !strings.Contains(string(b), `"verdict": "passed"`) {
		t.Errorf("last report on hostA: %.300s", b)
	}
	if keys := storeKeys(t, state, "generators"); len(keys) > 0 {
		t.Errorf("down left the run's keys behind: %v", keys)
	}
	if tr.got.Load() != sent {
		t.Errorf("the target got %d more requests after the run exited", tr.got.Load()-sent)
	}
}

// A persistent run killed outright leaves its mark in the store; a down from
// another home on the same host sees its process gone and does not wait for
// word from it.
func TestDownDoesNotWaitForAKilledPersistentRun(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no SIGTERM")
	}
	tr := newTrickle(t)
	state := filepath.Join(t.TempDir(), "state")
	a := newWorkstation(t, state, proc.HostEnv+"=hostA")
	b := newWorkstation(t, state, proc.HostEnv+"=hostA")
	pid := tr.upSending(t, a)
	killRun(t, pid)
	r := b.run("down", "trickle")
	if r.code != 0 {
		t.Fatalf("down: exit %d\n%s", r.code, r.stderr)
	}
	if out := r.stdout + r.stderr; !strings.Contains(out, "(pid "+strconv.Itoa(pid)+") no longer runs") || strings.Contains(out, "waiting for the persistent run") {
		t.Errorf("down with the run's process gone:\n%s", out)
	}
	if keys := storeKeys(t, state, "generators"); len(keys) > 0 {
		t.Errorf("down left the run's keys behind: %v", keys)
	}
}

// A persistent run whose process died (killed, its workstation restarted) is
// started again by the next `up` on its workstation, which says why. While it
// runs `up` leaves it alone, and so does an `up` on another workstation,
// which cannot see the process: a partition must not start a second run.
func TestUpRestartsAPersistentRunWhoseProcessDied(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no SIGKILL")
	}
	tr := newTrickle(t)
	state := filepath.Join(t.TempDir(), "state")
	a := newWorkstation(t, state, proc.HostEnv+"=hostA")
	b := newWorkstation(t, state, proc.HostEnv+"=hostB")
	pid := tr.upSending(t, a)
	pidNow := func(w *workstation) int { return int(w.status("trickle").Steps["load"].Outputs["pid"].Value.(float64)) }
	for _, w := range []*workstation{a, b} {
		if r := w.must("status", "trickle"); strings.Contains(r.stdout, "stopped:") {
			t.Errorf("status while the run goes on says it stopped:\n%s", r.stdout)
		}
		r := w.must("up", tr.def)
		if got := pidNow(w); got != pid || !proc.Alive(pid) || strings.Contains(r.stderr, "applying again") {
			t.Fatalf("up while the run goes on: pid %d (was %d), alive %v\n%s", got, pid, proc.Alive(pid), r.stderr)
		}
	}
	killRun(t, pid)
	if r := b.must("up", tr.def); pidNow(b) != pid || strings.Contains(r.stderr, "applying again") {
		t.Errorf("up on hostB started a run hostA's may still be running:\n%s", r.stderr)
	}
	// status says so where the run's process can be seen, in text and JSON.
	if r := a.must("status", "trickle"); !strings.Contains(r.stdout, "stopped: its persistent run (pid "+strconv.Itoa(pid)+" on hostA) no longer runs") {
		t.Errorf("status on hostA after the run died:\n%s", r.stdout)
	}
	if r := a.must("status", "trickle", "--output", "json"); !strings.Contains(r.stdout, `"stopped": {`) {
		t.Errorf("status --output json on hostA has no stopped steps:\n%s", r.stdout)
	}
	if r := b.must("status", "trickle"); strings.Contains(r.stdout, "stopped:") {
		t.Errorf("status on hostB, which cannot see the run's process, says it stopped:\n%s", r.stdout)
	}
	// stack plan says what up would do, and exits 2 as for drift.
	if r := b.run("plan", "trickle"); r.code != 0 || !strings.Contains(r.stdout, "not applicable") {
		t.Errorf("plan on hostB: exit %d, want 0 and the step not applicable\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := a.run("plan", "trickle"); r.code != 2 || !strings.Contains(r.stdout, "stopped") || !strings.Contains(r.stdout, "`stack up` starts them again") {
		t.Errorf("plan on hostA after the run died: exit %d, want 2 and the step stopped\n%s%s", r.code, r.stdout, r.stderr)
	}
	r := a.must("up", tr.def)
	if want := "its persistent run (pid " + strconv.Itoa(pid) + " on hostA) no longer runs: applying again"; !strings.Contains(r.stdout+r.stderr, want) {
		t.Errorf("up after the run died does not say %q:\n%s%s", want, r.stdout, r.stderr)
	}
	if again := tr.sending(t, a); again == pid {
		t.Errorf("up left the dead run (pid %d) in the record", pid)
	}
	a.must("down", "trickle")
}

// killRun kills a persistent run's process group outright and waits until
// it is gone.
func killRun(t *testing.T, pid int) {
	t.Helper()
	if err := proc.KillGroup(pid); err != nil {
		t.Fatal(err)
	}
	if !exits(pid) {
		t.Fatalf("pid %d survived SIGKILL", pid)
	}
}

// storeKeys lists the files of a state directory's objects under prefix.
func storeKeys(t *testing.T, state, prefix string) []string {
	t.Helper()
	var keys []string
	root := filepath.Join(state, "objects")
	_ = filepath.WalkDir(filepath.Join(root, prefix), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			keys = append(keys, rel)
		}
		return nil
	})
	return keys
}

// trickle is a stack of one generator step that sends to a test server every
// 20 ms until stopped ("duration": "forever"), and the server's count.
type trickle struct {
	def string
	got atomic.Int64
}

func newTrickle(t *testing.T) *trickle {
	t.Helper()
	tr := &trickle{def: filepath.Join(t.TempDir(), "trickle.json")}
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { tr.got.Add(1) }))
	t.Cleanup(srv.Close)
	if err := os.WriteFile(tr.def, []byte(`{"name": "trickle", "steps": [{"name": "load", "kind": "generator",
		"scenario": "sms-inbound", "target": "`+srv.URL+`/sms", "rate": {"shape": "trickle", "every": "20ms"},
		"duration": "forever"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	return tr
}

// upSending brings the stack up on w, waits until its persistent run sends
// and returns the run's pid.
func (tr *trickle) upSending(t *testing.T, w *workstation) int {
	t.Helper()
	w.must("up", tr.def)
	return tr.sending(t, w)
}

// sending waits until the stack's persistent run (as its status names it)
// sends, and returns its pid.
func (tr *trickle) sending(t *testing.T, w *workstation) int {
	t.Helper()
	pid := int(w.status("trickle").Steps["load"].Outputs["pid"].Value.(float64))
	t.Cleanup(func() { _ = proc.KillGroup(pid) })
	deadline := time.Now().Add(2 * time.Minute) // bounds a broken run only
	for before := tr.got.Load(); tr.got.Load() < before+5; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the persistent run sent nothing after up returned")
		}
	}
	return pid
}
