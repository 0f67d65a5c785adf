package load_test

import (
	"context"
	"io"
	"log"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stack-tools/stack/load"
	"github.com/stack-tools/stack/load/pace"
	"github.com/stack-tools/stack/load/scenario"
	"github.com/stack-tools/stack/stacks/scenarios"
)

func smsInbound(t *testing.T) *scenario.Scenario {
	t.Helper()
	sc, err := scenario.Resolve("", "sms-inbound", scenarios.Builtin())
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func run(t *testing.T, cfg load.Config) *load.Report {
	t.Helper()
	rep, err := load.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("verdict %s %s: sent %d responses %d success %d late %d p50 %.2fms p99 %.2fms max %.2fms",
		rep.Verdict, rep.Reason, rep.Total.Sent, rep.Total.Responses, rep.Total.Success, rep.Total.Late,
		rep.Total.Latency.P50, rep.Total.Latency.P99, rep.Total.Latency.Max)
	return rep
}

// The target verifies every request the way the SMS vendor's customers do.
func TestSMSInboundSignaturesVerifyAtTheTarget(t *testing.T) {
	const token = "s3cret-token"
	var good, bad atomic.Int64
	var mu sync.Mutex
	froms := map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		u := "http://" + r.Host + r.URL.RequestURI()
		if r.Header.Get("X-Twilio-Signature") != scenario.TwilioSignature(token, u, r.PostForm) {
			bad.Add(1)
			http.Error(w, "bad signature", http.StatusForbidden)
			return
		}
		mu.Lock()
		froms[r.PostForm.Get("From")] = true
		mu.Unlock()
		good.Add(1)
	}))
	defer srv.Close()
	rep := run(t, load.Config{
		Scenario: smsInbound(t), Target: srv.URL + "/webhooks/sms/inbound",
		Options: scenario.Options{AuthToken: token, Senders: 7, Reuse: 0.3, Duplicate: 0.05, Seed: 1},
		Rate:    pace.Spec{Rate: 400}, Requests: 400,
	})
	if bad.Load() != 0 || good.Load() != 400 {
		t.Errorf("target saw %d valid and %d invalid signatures, want 400 valid", good.Load(), bad.Load())
	}
	if rep.Verdict != load.Passed || rep.Total.Success != 400 || rep.Total.Codes["200"] != 400 {
		t.Errorf("report: verdict %s, success %d, codes %v", rep.Verdict, rep.Total.Success, rep.Total.Codes)
	}
	if len(froms) != 7 {
		t.Errorf("messages came from %d senders, want the pool's 7", len(froms))
	}
	if len(rep.Types) != 7 {
		t.Errorf("report has %d types, want 7", len(rep.Types))
	}
	var sum uint64
	for _, ty := range rep.Types {
		sum += ty.Sent
	}
	if sum != 400 {
		t.Errorf("per-type sent adds to %d, want 400", sum)
	}
	if rep.Total.Bodies["duplicate"] == 0 || rep.Total.Bodies["reused"] == 0 {
		t.Errorf("bodies %v: want reused and duplicate ones", rep.Total.Bodies)
	}
}

// stallingServer holds every request that arrives in [from, from+d) until
// from+d, and records when requests arrived.
type stallingServer struct {
	start   time.Time
	from, d time.Duration
}

func (s *stallingServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	at := time.Since(s.start)
	if at >= s.from && at < s.from+s.d {
		time.Sleep(s.from + s.d - at)
	}
}

// holdingServer stalls by count, not by the clock: from the first-th request
// on it holds every request until want of them wait at once, then lets them
// all go. Only a sender pool that grows while the target stalls can get that
// many requests to it; a fixed pool stops sending once its senders all wait.
type holdingServer struct {
	first, want int
	mu          sync.Mutex
	n, held     int
	maxHeld     int
	heldSince   time.Time
	heldFor     time.Duration // from the first held request's arrival to the release
	release     chan struct{}
}

func (s *holdingServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.n++
	if s.n < s.first || s.release == nil {
		s.mu.Unlock()
		return
	}
	if s.held == 0 {
		s.heldSince = time.Now()
	}
	s.held++
	s.maxHeld = max(s.maxHeld, s.held)
	release := s.release
	if s.held == s.want {
		s.heldFor = time.Since(s.heldSince)
		close(s.release)
		s.release = nil
	}
	s.mu.Unlock()
	select {
	case <-release:
	case <-r.Context().Done():
	}
}

// giveUp releases held requests if the pool never grows to reach want, so a
// broken pool fails the test instead of hanging it.
func (s *holdingServer) giveUp() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.release != nil {
		s.heldFor = time.Since(s.heldSince)
		close(s.release)
		s.release = nil
	}
}

// A target that stalls does not slow the sending: while it holds requests,
// new ones keep arriving (the sender pool grows instead of waiting), and the
// held ones report latency that includes the stall.
//
// Whether requests also leave on time to the millisecond under a stall is a
// speed claim a busy machine can break; bench/load measures it.
func TestStallingTargetDoesNotSlowTheRate(t *testing.T) {
	// 150 held at once at 200/s is 0.75 s of stall; the initial pool has 4 senders.
	hs := &holdingServer{first: 50, want: 150, release: make(chan struct{})}
	srv := httptest.NewServer(hs)
	defer srv.Close()
	stuck := time.AfterFunc(20*time.Second, hs.giveUp)
	defer stuck.Stop()
	rep := run(t, load.Config{Scenario: smsInbound(t), Target: srv.URL, Rate: pace.Spec{Rate: 200}, Requests: 400})
	hs.mu.Lock()
	maxHeld, heldFor := hs.maxHeld, hs.heldFor
	hs.mu.Unlock()
	if maxHeld < hs.want {
		t.Fatalf("the target held at most %d requests at once, want %d: sending waited for the stalled target", maxHeld, hs.want)
	}
	if rep.Total.Sent != 400 || rep.Total.Success != 400 {
		t.Fatalf("sent %d, success %d; want 400 each", rep.Total.Sent, rep.Total.Success)
	}
	// The first held request waited heldFor at the target, so its latency,
	// counted from its intended send time, is at least that (HDR precision aside).
	if got, want := rep.Total.Latency.Max, 0.99*float64(heldFor)/float64(time.Millisecond); got < want {
		t.Errorf("max latency %.1fms, want at least the %.1fms the target held requests", got, want)
	}
}

// With too few senders to cover a stall, requests leave late; their latency
// still counts from the intended time, not from when they finally left.
func TestLateRequestsAreMeasuredFromTheirIntendedTime(t *testing.T) {
	st := &stallingServer{from: 500 * time.Millisecond, d: time.Second}
	srv := httptest.NewServer(st)
	defer srv.Close()
	st.start = time.Now()
	rep := run(t, load.Config{Scenario: smsInbound(t), Target: srv.URL, Rate: pace.Spec{Rate: 200},
		Duration: 2 * time.Second, Workers: 4, MaxWorkers: 4})
	// About 200 requests were due during the stall; all but the 4 in flight left late.
	if rep.Total.Late < 150 {
		t.Errorf("late = %d, want ~190 requests that could not leave during the stall", rep.Total.Late)
	}
	// Their own round trips took microseconds after the stall; measured from the
	// intended time, half of them waited more than ~0.5s.
	if rep.Total.Latency.P90 < 300 {
		t.Errorf("p90 latency %.1fms: late requests were timed from when they left (coordinated omission)", rep.Total.Latency.P90)
	}
	if rep.Total.MaxLagMs < 800 {
		t.Errorf("max lag %.1fms, want ~1000ms", rep.Total.MaxLagMs)
	}
}

// failingServer answers 500 (or sleeps first) to the requests numbered
// [from, to), counting from 1: by count, so a busy machine cannot move the
// failures into other windows than a quiet one would.
type failingServer struct {
	n        atomic.Int64
	from, to int64
	slow     time.Duration
}

func (s *failingServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if n := s.n.Add(1); n >= s.from && n < s.to {
		if s.slow > 0 {
			time.Sleep(s.slow)
			return
		}
		http.Error(w, "overloaded", http.StatusInternalServerError)
	}
}

func stopPolicy() *load.StopPolicy {
	return &load.StopPolicy{MinSuccess: 0.95, MaxLatency: pace.Duration(100 * time.Millisecond), Votes: 3,
		Window: pace.Duration(250 * time.Millisecond)}
}

// stoppedAtTheVote checks that the run ended as soon as the votes reached the
// policy's count: after that window at most the final partial one follows, and
// far fewer requests than scheduled were sent.
func stoppedAtTheVote(t *testing.T, rep *load.Report, votes int, scheduled uint64) {
	t.Helper()
	at := -1
	for i, w := range rep.Windows {
		if w.Votes >= votes {
			at = i
			break
		}
	}
	if at < 0 {
		t.Fatalf("no window reached %d votes; windows: %+v", votes, rep.Windows)
	}
	if after := len(rep.Windows) - 1 - at; after > 1 {
		t.Errorf("%d windows followed the one that reached %d votes: the run did not stop at the vote", after, votes)
	}
	if rep.Total.Sent >= scheduled {
		t.Errorf("sent %d of the %d scheduled requests: the vote did not cut the run short", rep.Total.Sent, scheduled)
	}
}

func TestFailingTargetIsStoppedByVote(t *testing.T) {
	fs := &failingServer{from: 100, to: math.MaxInt64}
	srv := httptest.NewServer(fs)
	defer srv.Close()
	rep := run(t, load.Config{Scenario: smsInbound(t), Target: srv.URL, Rate: pace.Spec{Rate: 200},
		Duration: 10 * time.Second, Stop: stopPolicy()})
	if rep.Verdict != load.Stopped || !strings.Contains(rep.Reason, "success") {
		t.Errorf("verdict %s (%s), want stopped for low success", rep.Verdict, rep.Reason)
	}
	stoppedAtTheVote(t, rep, 3, 2000)
	if rep.Total.Codes["500"] == 0 {
		t.Errorf("codes %v: want 500s counted", rep.Total.Codes)
	}
}

func TestSlowingTargetIsStoppedByVote(t *testing.T) {
	fs := &failingServer{from: 50, to: math.MaxInt64, slow: 150 * time.Millisecond}
	srv := httptest.NewServer(fs)
	defer srv.Close()
	rep := run(t, load.Config{Scenario: smsInbound(t), Target: srv.URL, Rate: pace.Spec{Rate: 100},
		Duration: 10 * time.Second, Stop: stopPolicy()})
	if rep.Verdict != load.Stopped || !strings.Contains(rep.Reason, "latency") {
		t.Errorf("verdict %s (%s), want stopped for latency", rep.Verdict, rep.Reason)
	}
	stoppedAtTheVote(t, rep, 3, 1000)
}

func TestOneTransientBadWindowDoesNotStop(t *testing.T) {
	// 20 failures in a row are 0.1 s at 200/s: one or two 0.5 s windows.
	fs := &failingServer{from: 301, to: 321}
	srv := httptest.NewServer(fs)
	defer srv.Close()
	// Only success votes here: a busy machine's latency must not add votes.
	policy := &load.StopPolicy{MinSuccess: 0.95, MaxLatency: pace.Duration(time.Minute), Votes: 3,
		Window: pace.Duration(500 * time.Millisecond)}
	rep := run(t, load.Config{Scenario: smsInbound(t), Target: srv.URL, Rate: pace.Spec{Rate: 200},
		Duration: 3 * time.Second, Stop: policy})
	if rep.Verdict != load.Passed {
		t.Errorf("verdict %s (%s), want passed after a transient failure", rep.Verdict, rep.Reason)
	}
	unhealthy := 0
	for _, w := range rep.Windows {
		if w.Unhealthy != "" {
			unhealthy++
		}
	}
	if unhealthy == 0 || rep.Total.Codes["500"] != 20 {
		t.Errorf("%d unhealthy windows, codes %v: the transient failure should show", unhealthy, rep.Total.Codes)
	}
}

func TestUnreachableTargetErrors(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	target := srv.URL
	srv.Close()
	rep := run(t, load.Config{Scenario: smsInbound(t), Target: target, Rate: pace.Spec{Rate: 50}, Requests: 10})
	if rep.Verdict != load.Errored || !strings.Contains(rep.Reason, "refused") {
		t.Errorf("verdict %s (%s), want errored naming the connection error", rep.Verdict, rep.Reason)
	}
}

func TestHTTPSWithInsecureUsesHTTP2(t *testing.T) {
	var h2 atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 2 {
			h2.Add(1)
		}
	}))
	srv.EnableHTTP2 = true
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes below are expected
	srv.StartTLS()
	defer srv.Close()
	cfg := load.Config{Scenario: smsInbound(t), Target: srv.URL, Rate: pace.Spec{Rate: 100}, Requests: 20}
	if rep := run(t, cfg); rep.Total.Errors != 20 {
		t.Errorf("without --insecure a self-signed target must fail; errors = %d", rep.Total.Errors)
	}
	cfg.Insecure = true
	if rep := run(t, cfg); rep.Total.Success != 20 || h2.Load() != 20 {
		t.Errorf("success %d, over HTTP/2 %d; want 20 each", rep.Total.Success, h2.Load())
	}
}

// Chunked and close-delimited responses are read correctly by the fast client.
func TestResponseFramings(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch n.Add(1) % 3 {
		case 0:
			w.Header().Set("Connection", "close")
			w.Write([]byte("bye"))
		case 1:
			w.Write([]byte("a"))
			w.(http.Flusher).Flush() // forces chunked encoding
			w.Write([]byte(strings.Repeat("b", 10000)))
		default:
			w.WriteHeader(http.StatusAccepted)
		}
	}))
	defer srv.Close()
	rep := run(t, load.Config{Scenario: smsInbound(t), Target: srv.URL, Rate: pace.Spec{Rate: 300}, Requests: 90, Workers: 2, MaxWorkers: 2})
	if rep.Total.Success != 90 || rep.Total.Codes["202"] != 30 {
		t.Errorf("success %d codes %v errors %v", rep.Total.Success, rep.Total.Codes, rep.Total.ErrorTexts)
	}
}

// A --max-workers below the pool the rate would start with caps the pool
// rather than refusing the run (a fleet share at 2,500/s with 32 senders).
func TestMaxWorkersBelowTheStartingPoolCapsIt(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { n.Add(1) }))
	defer srv.Close()
	rep := run(t, load.Config{Scenario: smsInbound(t), Target: srv.URL, Rate: pace.Spec{Rate: 5000}, Requests: 200, MaxWorkers: 8})
	if rep.Total.Success != 200 || n.Load() != 200 {
		t.Errorf("success %d, target saw %d, want 200 each (errors %v)", rep.Total.Success, n.Load(), rep.Total.ErrorTexts)
	}
}

// Large bodies (sent without copying) arrive intact.
func TestLargeBodiesArriveWhole(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "scenario.json"), []byte(`{"name":"big","types":[{"name":"big","weight":1,"body":"big.tmpl"}]}`), 0o644)
	os.WriteFile(filepath.Join(dir, "big.tmpl"), []byte(`{{ .MessageID }}`+strings.Repeat("x", 100000)), 0o644)
	sc, err := scenario.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	var sizes sync.Map
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		sizes.Store(len(b), true)
	}))
	defer srv.Close()
	rep := run(t, load.Config{Scenario: sc, Target: srv.URL, Rate: pace.Spec{Rate: 100}, Requests: 20})
	n := 0
	sizes.Range(func(k, v any) bool { n++; return k.(int) == 100036 })
	if rep.Total.Success != 20 || n != 1 {
		t.Errorf("success %d; the target saw %d distinct body sizes, want only 100036", rep.Total.Success, n)
	}
}

// A keep-alive connection the target closed while idle is replaced without
// failing the request (trickle tests meet this on every request).
func TestIdleClosedConnectionsAreRedialed(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.Config.IdleTimeout = 30 * time.Millisecond
	srv.Start()
	defer srv.Close()
	rep := run(t, load.Config{Scenario: smsInbound(t), Target: srv.URL, Rate: pace.Spec{Shape: "trickle", Every: pace.Duration(80 * time.Millisecond)},
		Requests: 8, Workers: 1, MaxWorkers: 1})
	if rep.Total.Success != 8 || rep.Total.Errors != 0 {
		t.Errorf("success %d errors %v: a closed idle connection failed a request", rep.Total.Success, rep.Total.ErrorTexts)
	}
}
