package load_test

import (
	"context"
	"io"
	"log"
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
	start    time.Time
	from, d  time.Duration
	mu       sync.Mutex
	arrivals []time.Duration
}

func (s *stallingServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	at := time.Since(s.start)
	s.mu.Lock()
	s.arrivals = append(s.arrivals, at)
	s.mu.Unlock()
	if at >= s.from && at < s.from+s.d {
		time.Sleep(s.from + s.d - at)
	}
}

func (s *stallingServer) arrivedBetween(a, b time.Duration) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, t := range s.arrivals {
		if t >= a && t < b {
			n++
		}
	}
	return n
}

// A target that stalls for 1s does not slow the sending: requests keep
// arriving on schedule during the stall, and the stalled ones report ~1s.
func TestStallingTargetDoesNotSlowTheRate(t *testing.T) {
	st := &stallingServer{from: 500 * time.Millisecond, d: time.Second}
	srv := httptest.NewServer(st)
	defer srv.Close()
	st.start = time.Now()
	rep := run(t, load.Config{Scenario: smsInbound(t), Target: srv.URL, Rate: pace.Spec{Rate: 200}, Duration: 2 * time.Second})
	if rep.Total.Sent != 400 || rep.Total.Success != 400 {
		t.Fatalf("sent %d, success %d; want 400 each", rep.Total.Sent, rep.Total.Success)
	}
	during := st.arrivedBetween(600*time.Millisecond, 1400*time.Millisecond)
	if during < 140 || during > 180 { // 0.8s at 200/s = 160
		t.Errorf("%d requests arrived during the stall's middle 0.8s, want ~160: the rate slowed", during)
	}
	// With a fixed pool ~190 of the stall's requests leave late (the next
	// test); a growing pool keeps that to the few a busy machine delays.
	if rep.Total.Late > 40 {
		t.Errorf("%d requests left late although the pool could grow", rep.Total.Late)
	}
	if rep.Total.Latency.Max < 900 {
		t.Errorf("max latency %.1fms, want ~1000ms for requests caught in the stall", rep.Total.Latency.Max)
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

// failingServer answers 500 (or sleeps) inside [from, to) since start.
type failingServer struct {
	start    time.Time
	from, to time.Duration
	slow     time.Duration
}

func (s *failingServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	at := time.Since(s.start)
	if at >= s.from && at < s.to {
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

func TestFailingTargetIsStoppedByVote(t *testing.T) {
	fs := &failingServer{from: 500 * time.Millisecond, to: time.Hour}
	srv := httptest.NewServer(fs)
	defer srv.Close()
	fs.start = time.Now()
	began := time.Now()
	rep := run(t, load.Config{Scenario: smsInbound(t), Target: srv.URL, Rate: pace.Spec{Rate: 200},
		Duration: 10 * time.Second, Stop: stopPolicy()})
	if rep.Verdict != load.Stopped || !strings.Contains(rep.Reason, "success") {
		t.Errorf("verdict %s (%s), want stopped for low success", rep.Verdict, rep.Reason)
	}
	if took := time.Since(began); took > 4*time.Second {
		t.Errorf("run took %s; the vote should stop it about 1s after the failures began", took)
	}
	if rep.Total.Codes["500"] == 0 {
		t.Errorf("codes %v: want 500s counted", rep.Total.Codes)
	}
}

func TestSlowingTargetIsStoppedByVote(t *testing.T) {
	fs := &failingServer{from: 500 * time.Millisecond, to: time.Hour, slow: 150 * time.Millisecond}
	srv := httptest.NewServer(fs)
	defer srv.Close()
	fs.start = time.Now()
	rep := run(t, load.Config{Scenario: smsInbound(t), Target: srv.URL, Rate: pace.Spec{Rate: 100},
		Duration: 10 * time.Second, Stop: stopPolicy()})
	if rep.Verdict != load.Stopped || !strings.Contains(rep.Reason, "latency") {
		t.Errorf("verdict %s (%s), want stopped for latency", rep.Verdict, rep.Reason)
	}
	if rep.Seconds > 4 {
		t.Errorf("sent for %.1fs; the vote should stop it about 1s after the slowdown", rep.Seconds)
	}
}

func TestOneTransientBadWindowDoesNotStop(t *testing.T) {
	fs := &failingServer{from: 600 * time.Millisecond, to: 800 * time.Millisecond}
	srv := httptest.NewServer(fs)
	defer srv.Close()
	fs.start = time.Now()
	rep := run(t, load.Config{Scenario: smsInbound(t), Target: srv.URL, Rate: pace.Spec{Rate: 200},
		Duration: 2 * time.Second, Stop: stopPolicy()})
	if rep.Verdict != load.Passed {
		t.Errorf("verdict %s (%s), want passed after a transient failure", rep.Verdict, rep.Reason)
	}
	unhealthy := 0
	for _, w := range rep.Windows {
		if w.Unhealthy != "" {
			unhealthy++
		}
	}
	if unhealthy == 0 || rep.Total.Codes["500"] == 0 {
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
