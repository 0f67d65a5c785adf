package fleet_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stack-tools/stack/internal/proc"
	"github.com/stack-tools/stack/internal/testenv"
	"github.com/stack-tools/stack/load"
	"github.com/stack-tools/stack/load/scenario"
)

var stackBin string

// startZK starts the package's ZooKeeper on first use; tests keep apart by
// group name.
var startZK = sync.OnceValues(func() (*testenv.ZooKeeper, error) {
	dir, err := os.MkdirTemp("", "stack-fleet-zk-")
	if err != nil {
		return nil, err
	}
	stops = append(stops, func() { os.RemoveAll(dir) })
	z, err := testenv.StartZooKeeper(dir)
	if err == nil {
		stops = append(stops, func() { _ = z.Stop() })
	}
	return z, err
})

var stops []func()

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "stack-fleet-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	stackBin = filepath.Join(dir, "stack")
	if out, err := exec.Command("go", "build", "-o", stackBin, "../../cmd/stack").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building stack: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	for i := len(stops) - 1; i >= 0; i-- {
		stops[i]()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

func zookeeper(t *testing.T) string {
	t.Helper()
	z, err := startZK()
	if err != nil {
		testenv.Missing(t, err)
	}
	return z.Addr()
}

// sink is the target: it counts requests per path; /slow answers after 20ms.
type sink struct {
	srv        *httptest.Server
	fast, slow atomic.Int64
}

const slowDelay = 20 * time.Millisecond

func newSink(t *testing.T) *sink {
	s := &sink{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		switch r.URL.Path {
		case "/fast":
			s.fast.Add(1)
		case "/slow":
			s.slow.Add(1)
			time.Sleep(slowDelay)
		default:
			http.Error(w, "unknown path", http.StatusNotFound)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *sink) total() int64 { return s.fast.Load() + s.slow.Load() }

// writeScenario makes a two-type scenario: fast (weight 2) and slow (weight 1).
func writeScenario(t *testing.T) string {
	dir := t.TempDir()
	files := map[string]string{
		"scenario.json": `{"name": "fleet-test", "types": [
			{"name": "fast", "weight": 2, "path": "/fast", "body": "fast.tmpl"},
			{"name": "slow", "weight": 1, "path": "/slow", "body": "slow.tmpl"}]}`,
		"fast.tmpl": `From={{.Sender.Phone}}&Body={{word}}&MessageSid={{.MessageID}}`,
		"slow.tmpl": `From={{.Sender.Phone}}&Body={{sentence 5}}&MessageSid={{.MessageID}}`,
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// worker is one `stack load-worker` process.
type worker struct {
	cmd     *exec.Cmd
	out     *syncBuffer
	name    string
	metrics string // URL of its Prometheus metrics
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var (
	registered = regexp.MustCompile(`worker (w-\d{10}) registered`)
	metricsAt  = regexp.MustCompile(`metrics: (http://\S+)`)
)

// startWorkers starts n workers in group and waits until each has registered.
func startWorkers(t *testing.T, zk, group string, n int) []*worker {
	t.Helper()
	var ws []*worker
	for range n {
		w := &worker{out: &syncBuffer{}}
		w.cmd = exec.Command(stackBin, "load-worker", "--zookeeper", zk, "--group", group, "--session-timeout", "5s",
			"--metrics-addr", "127.0.0.1:0")
		w.cmd.Stdout, w.cmd.Stderr = w.out, w.out
		w.cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
		w.cmd.SysProcAttr = proc.DiesWithParentAttr()
		if err := w.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = w.cmd.Process.Kill()
			_ = w.cmd.Wait()
			if t.Failed() {
				t.Logf("worker %s output:\n%s", w.name, w.out.String())
			}
		})
		ws = append(ws, w)
	}
	deadline := time.Now().Add(60 * time.Second)
	for _, w := range ws {
		for {
			if m := registered.FindStringSubmatch(w.out.String()); m != nil {
				w.name = m[1]
				if m := metricsAt.FindStringSubmatch(w.out.String()); m != nil {
					w.metrics = m[1]
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("a worker did not register within 60s:\n%s", w.out.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return ws
}

// coordinate starts `stack load` splitting rate×duration among count workers.
func coordinate(t *testing.T, zk, group, target string, extra ...string) (*exec.Cmd, *bytes.Buffer, *syncBuffer) {
	t.Helper()
	args := append([]string{"load", "--scenario", writeScenario(t), "--target", target, "--rate", "3000", "--duration", "5s",
		"--zookeeper", zk, "--workers-group", group, "--workers-count", "3", "--workers-timeout", "60s",
		"--report-dir", t.TempDir(), "--output", "json",
		// A busy machine may answer slowly; every request must still count.
		"--timeout", "1m"}, extra...)
	cmd := exec.Command(stackBin, args...)
	var stdout bytes.Buffer
	stderr := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = &stdout, stderr
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, &stdout, stderr
}

func wait(t *testing.T, cmd *exec.Cmd, stderr *syncBuffer) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(3 * time.Minute):
		_ = cmd.Process.Kill()
		t.Fatalf("stack load did not finish within 3 minutes:\n%s", stderr.String())
	}
	return -1
}

func groupName(t *testing.T) string {
	return fmt.Sprintf("%s-%d", strings.ReplaceAll(t.Name(), "/", "-"), time.Now().UnixNano())
}

func TestThreeWorkersSendTheWholeRateAsOneReport(t *testing.T) {
	zk := zookeeper(t)
	s := newSink(t)
	group := groupName(t)
	ws := startWorkers(t, zk, group, 3)
	cmd, stdout, stderr := coordinate(t, zk, group, s.srv.URL)
	if code := wait(t, cmd, stderr); code != 0 {
		t.Fatalf("stack load exited %d:\n%s", code, stderr.String())
	}
	var rep load.Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("report: %v\n%s", err, stdout.String())
	}
	// The schedule fixes the count: 3000/s for 5s, whatever the machine's load.
	fast, slow, total := s.fast.Load(), s.slow.Load(), s.total()
	if total < 14700 || total > 15300 {
		t.Errorf("sink counted %d requests, want 15000 ± 2%%", total)
	}
	if rep.Verdict != load.Passed || rep.Total.Sent != uint64(total) || rep.Total.Success != uint64(total) {
		t.Errorf("report: verdict %s (%s), sent %d, success %d; the sink counted %d", rep.Verdict, rep.Reason, rep.Total.Sent, rep.Total.Success, total)
	}
	byType := map[string]load.Stats{}
	for _, ty := range rep.Types {
		byType[ty.Name] = ty.Stats
	}
	if byType["fast"].Success != uint64(fast) || byType["slow"].Success != uint64(slow) {
		t.Errorf("per type: report fast %d slow %d, sink fast %d slow %d", byType["fast"].Success, byType["slow"].Success, fast, slow)
	}
	// Latency runs from the intended send time to the response: never below
	// what the sink made the slow type wait.
	sl := byType["slow"].Latency
	if sl.P50 < ms(slowDelay) || sl.P99 < sl.P50 || sl.Max < sl.P99 {
		t.Errorf("slow type latency %+v: the sink holds each slow request %s", sl, slowDelay)
	}
	if rep.Total.Latency.P99 < rep.Total.Latency.P50 || rep.Total.Latency.Max < ms(slowDelay) {
		t.Errorf("total latency %+v", rep.Total.Latency)
	}
	// One share per worker (in registration order), each a third of the schedule.
	names := []string{ws[0].name, ws[1].name, ws[2].name}
	sort.Strings(names)
	if len(rep.Workers) != 3 {
		t.Fatalf("report names %d worker shares, want 3: %+v", len(rep.Workers), rep.Workers)
	}
	for i, sh := range rep.Workers {
		if sh.Name != names[i] || sh.Sent != 5000 || sh.Missing || sh.Verdict != load.Passed {
			t.Errorf("share %d: %+v; want worker %s, 5000 sent, passed", i+1, sh, names[i])
		}
	}
	// Each worker served its own share's live metrics.
	var counted float64
	for _, w := range ws {
		counted += responses(t, w.metrics)
	}
	if counted != float64(total) {
		t.Errorf("the workers' metrics count %g responses, the sink %d", counted, total)
	}
	var winSent uint64
	for _, w := range rep.Windows {
		winSent += w.Total.Sent
	}
	if winSent != rep.Total.Sent || len(rep.Windows) < 5 {
		t.Errorf("%d windows add up to %d sent, want >= 5 windows and %d", len(rep.Windows), winSent, rep.Total.Sent)
	}
	if t.Failed() {
		t.Logf("coordinator:\n%s", stderr.String())
	}
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

func TestAWorkerKilledMidRunLeavesItsShareMissing(t *testing.T) {
	zk := zookeeper(t)
	s := newSink(t)
	group := groupName(t)
	ws := startWorkers(t, zk, group, 3)
	cmd, stdout, stderr := coordinate(t, zk, group, s.srv.URL)
	// Mid-run: 2 of the 5 seconds' requests have arrived, so every share is
	// sending and has published its progress at least once (every 1s window).
	deadline := time.Now().Add(2 * time.Minute)
	for s.total() < 6000 {
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("the run did not get going:\n%s", stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	victim := ws[1]
	if err := victim.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	code := wait(t, cmd, stderr)
	var rep load.Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("report: %v\n%s\n%s", err, stdout.String(), stderr.String())
	}
	if code != 1 || rep.Verdict != load.Incomplete {
		t.Errorf("exit %d, verdict %s; want 1 and %s", code, rep.Verdict, load.Incomplete)
	}
	part := -1
	for i, sh := range rep.Workers {
		if sh.Name == victim.name {
			part = i
		}
	}
	share := fmt.Sprintf("share %d of 3", part+1)
	if part < 0 || !strings.Contains(rep.Reason, share) || !strings.Contains(rep.Reason, victim.name) {
		t.Errorf("reason %q does not name the killed worker's share (worker %s)", rep.Reason, victim.name)
	}
	for i, sh := range rep.Workers {
		wantMissing := i == part
		// A lost share shows what its last progress said it had sent.
		if sh.Missing != wantMissing || (!wantMissing && sh.Sent != 5000) || (wantMissing && (sh.Sent == 0 || sh.Sent >= 5000)) {
			t.Errorf("share %d: %+v", i+1, sh)
		}
	}
	// The HTML report says so too.
	if m := regexp.MustCompile(`report: (\S+\.html)`).FindStringSubmatch(stderr.String()); m == nil {
		t.Errorf("no HTML report written:\n%s", stderr.String())
	} else if page, err := os.ReadFile(m[1]); err != nil || !bytes.Contains(page, []byte("<b>missing</b>")) || !bytes.Contains(page, []byte(victim.name)) {
		t.Errorf("HTML report %s does not show the missing share of %s (%v)", m[1], victim.name, err)
	}
	// The report holds the two surviving shares, and they reached the sink.
	if rep.Total.Sent != 10000 || uint64(s.total()) < rep.Total.Sent {
		t.Errorf("report sent %d (want the 10000 of two shares), sink %d", rep.Total.Sent, s.total())
	}
	if t.Failed() {
		t.Logf("coordinator:\n%s", stderr.String())
	}
}

// A stop vote is global: the sink fails only the senders of share 1, whose
// worker votes to stop; the others stop with it, long before the schedule ends.
func TestOneSharesStopVoteStopsEveryShare(t *testing.T) {
	zk := zookeeper(t)
	dir := writeScenario(t)
	sc, err := scenario.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	// The pool is made from the run's seed; share 1 sends as its first third.
	g, err := scenario.NewGenerator(sc, "http://127.0.0.1", scenario.Options{Seed: 99, Senders: 30})
	if err != nil {
		t.Fatal(err)
	}
	failing := map[string]bool{}
	for _, s := range g.Senders[:10] {
		failing[s.Phone] = true
	}
	var total atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		total.Add(1)
		body, _ := io.ReadAll(r.Body)
		from, _, _ := strings.Cut(strings.TrimPrefix(string(body), "From="), "&")
		if failing[from] {
			http.Error(w, "share 1 is unwelcome", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	group := groupName(t)
	startWorkers(t, zk, group, 3)
	cmd := exec.Command(stackBin, "load", "--scenario", dir, "--target", srv.URL, "--rate", "300", "--duration", "60s",
		"--seed", "99", "--senders", "30", "--stop-success", "0.9", "--stop-votes", "2", "--stop-window", "1s",
		"--zookeeper", zk, "--workers-group", group, "--workers-count", "3", "--report-dir", "", "--output", "json")
	var stdout bytes.Buffer
	stderr := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = &stdout, stderr
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	code := wait(t, cmd, stderr)
	var rep load.Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("report: %v\n%s\n%s", err, stdout.String(), stderr.String())
	}
	if code != 1 || rep.Verdict != load.Stopped || !strings.Contains(rep.Reason, "share 1") {
		t.Errorf("exit %d, verdict %s (%s); want 1, stopped by share 1's vote", code, rep.Verdict, rep.Reason)
	}
	// 60s at 300/s would be 18000 requests; each share stopped far sooner.
	for i, sh := range rep.Workers {
		if sh.Verdict != load.Stopped || sh.Sent >= 6000 {
			t.Errorf("share %d: %+v; want stopped early", i+1, sh)
		}
	}
	if total.Load() >= 18000 {
		t.Errorf("the sink got %d requests: the run was not stopped", total.Load())
	}
	if t.Failed() {
		t.Logf("coordinator:\n%s", stderr.String())
	}
}

// responses sums stack_load_responses_total on a worker's metrics page.
func responses(t *testing.T, url string) float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("metrics %q: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var sum float64
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "stack_load_responses_total{") {
			var v float64
			fmt.Sscan(line[strings.LastIndex(line, " ")+1:], &v)
			sum += v
		}
	}
	return sum
}

// A generator step with "workers" splits its load the same way inside `up`,
// and stores the one merged report with the stack.
func TestGeneratorStepSplitsItsLoadAmongWorkers(t *testing.T) {
	zk := zookeeper(t)
	s := newSink(t)
	group := groupName(t)
	startWorkers(t, zk, group, 2)
	work := t.TempDir()
	def := fmt.Sprintf(`{"name": "fleet", "steps": [{"name": "load", "kind": "generator", "scenario": %q,
		"target": %q, "rate": 100, "duration": "6s", "workers": {"group": %q, "count": 2, "timeout": "1m"}}]}`,
		writeScenario(t), s.srv.URL, group)
	if err := os.WriteFile(filepath.Join(work, "fleet.json"), []byte(def), 0o644); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "STACK_STATE="+filepath.Join(work, "state"), "HOME="+work, "STACK_ZOOKEEPER="+zk)
	up := exec.Command(stackBin, "up", "fleet.json")
	up.Dir, up.Env = work, env
	upOut, err := up.CombinedOutput()
	if err != nil {
		t.Fatalf("up: %v\n%s", err, upOut)
	}
	// The fleet's totals every 5 s go to the step's log and the live table,
	// not to plain output without -v (as a local run's window lines).
	if strings.Contains(string(upOut), "workers  window:") {
		t.Errorf("plain up without -v printed the fleet's window lines:\n%s", upOut)
	}
	stepLog, _ := os.ReadFile(filepath.Join(work, "state", "objects", "stacks", "fleet", "logs", "load.log"))
	if !strings.Contains(string(stepLog), "workers  window:") {
		t.Errorf("the step's log has no fleet window line:\n%s", stepLog)
	}
	status := exec.Command(stackBin, "status", "fleet", "--output", "json")
	status.Dir, status.Env = work, env
	out, err := status.Output()
	if err != nil {
		t.Fatalf("status: %v", err)
	}
	var rec struct {
		Steps map[string]struct {
			Outputs map[string]struct{ Value any }
		}
	}
	if err := json.Unmarshal(out, &rec); err != nil {
		t.Fatalf("status: %v\n%s", err, out)
	}
	o := rec.Steps["load"].Outputs
	if o["sent"].Value != float64(600) || o["verdict"].Value != load.Passed || s.total() != 600 {
		t.Errorf("load step outputs %+v; sink %d; want 600 sent and passed", o, s.total())
	}
	data, err := os.ReadFile(fmt.Sprint(o["report_json"].Value))
	if err != nil {
		t.Fatal(err)
	}
	var rep load.Report
	if err := json.Unmarshal(data, &rep); err != nil || len(rep.Workers) != 2 || rep.Workers[0].Sent+rep.Workers[1].Sent != 600 {
		t.Errorf("stored report: %v, workers %+v", err, rep.Workers)
	}
}
