package e2e_test

import (
	"bytes"
	"context"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/stack-tools/stack/internal/testenv"
	"github.com/stack-tools/stack/load"
	"github.com/stack-tools/stack/load/e2e"
	"github.com/stack-tools/stack/load/live"
	"github.com/stack-tools/stack/load/pace"
	"github.com/stack-tools/stack/load/probe"
	"github.com/stack-tools/stack/load/scenario"
)

var delays = map[string]time.Duration{"hook": 30 * time.Millisecond, "mail": 60 * time.Millisecond, "queue": 90 * time.Millisecond}

func testScenario(t *testing.T) *scenario.Scenario {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"scenario.json": `{"name": "e2e", "types": [
			{"name": "hook", "weight": 3, "body": "b.tmpl", "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
			{"name": "mail", "weight": 3, "body": "b.tmpl", "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
			{"name": "queue", "weight": 2, "body": "b.tmpl", "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
			{"name": "quiet", "weight": 1, "body": "b.tmpl", "headers": {"Content-Type": "application/x-www-form-urlencoded"}}]}`,
		"b.tmpl": `id={{ .MessageID }}&type={{ .Type }}&from={{ .Sender.Phone | urlquery }}`,
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sc, err := scenario.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// startProbe runs an in-process probe (HTTP, plus SMTP or SQS) and returns its URL.
func startProbe(t *testing.T, ctx context.Context, o probe.Options) string {
	t.Helper()
	j, err := probe.OpenJournal(filepath.Join(t.TempDir(), "journal"))
	if err != nil {
		t.Fatal(err)
	}
	o.Journal = j
	o.HTTP = listen(t)
	done := make(chan error, 1)
	go func() { done <- probe.Serve(ctx, o) }()
	t.Cleanup(func() {
		if err := <-done; err != nil {
			t.Error(err)
		}
		j.Close()
	})
	return "http://" + o.HTTP.Addr().String()
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func sqsQueue(t *testing.T) (*sqs.Client, string) {
	t.Helper()
	if _, err := startMoto(); err != nil {
		testenv.Missing(t, err)
	}
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	c := sqs.NewFromConfig(cfg)
	q, err := c.CreateQueue(context.Background(), &sqs.CreateQueueInput{QueueName: aws.String("e2e-" + strings.ToLower(t.Name()))})
	if err != nil {
		t.Fatal(err)
	}
	return c, aws.ToString(q.QueueUrl)
}

// rig is the pipeline and its three probes.
type rig struct {
	pipe   *pipeline
	target string
	e2e    *e2e.Config
}

func newRig(t *testing.T, ctx context.Context) *rig {
	client, queue := sqsQueue(t)
	smtpL := listen(t)
	hookURL := startProbe(t, ctx, probe.Options{Name: "hooks"})
	mailURL := startProbe(t, ctx, probe.Options{Name: "mail", SMTP: smtpL})
	queueURL := startProbe(t, ctx, probe.Options{Name: "queue", SQS: client, Queue: queue})
	p := newPipeline()
	p.delay, p.hookURL, p.smtpAddr, p.sqs, p.queue = delays, hookURL+"/outbound", smtpL.Addr().String(), client, queue
	p.dropEvery, p.dupEvery = 4, 3
	pl := listen(t)
	srv := &http.Server{Handler: p}
	go srv.Serve(pl)
	t.Cleanup(func() { p.wg.Wait(); srv.Close() })
	return &rig{pipe: p, target: "http://" + pl.Addr().String() + "/webhook", e2e: &e2e.Config{
		Probes: []e2e.Probe{
			{Name: "hooks", URL: hookURL, Match: []e2e.Rule{{Header: "X-Ref"}}},
			{Name: "mail", URL: mailURL, Match: []e2e.Rule{{Header: "X-Stack-Id"}, {Regexp: `ref=(\S+)`}}},
			{Name: "queue", URL: queueURL, Match: []e2e.Rule{{JSON: "/ref"}}},
		},
		Expect: map[string]int{"hook": 1, "mail": 1, "queue": 1, "quiet": 0},
		Wait:   pace.Duration(8 * time.Second), Poll: pace.Duration(100 * time.Millisecond),
	}}
}

func (r *rig) config(t *testing.T, n uint64) load.Config {
	return load.Config{Scenario: testScenario(t), Target: r.target, Rate: pace.Spec{Rate: 200}, Requests: n,
		Options: scenario.Options{Seed: 7}, E2E: r.e2e}
}

func TestPipelineLostDuplicatedLatency(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := newRig(t, ctx)
	cfg := r.config(t, 160)
	metrics := live.New()
	cfg.Observer = metrics
	rep, err := load.Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Verdict != load.Passed || rep.E2E == nil {
		t.Fatalf("verdict %s (%s), e2e %v", rep.Verdict, rep.Reason, rep.E2E)
	}
	checkSets(t, rep, r.pipe)
	// Prometheus has the e2e histogram by type, one observation per arrival counted.
	got := map[string]uint64{}
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == "stack_load_e2e_latency_seconds" {
			for _, m := range f.GetMetric() {
				got[m.GetLabel()[0].GetValue()] = m.GetHistogram().GetSampleCount()
			}
		}
	}
	for _, ts := range rep.E2E.Types {
		if got[ts.Name] != ts.Arrived {
			t.Errorf("prometheus e2e histogram of %s holds %d, the report %d arrived", ts.Name, got[ts.Name], ts.Arrived)
		}
	}
}

// checkSets checks the report names exactly the pipeline's dropped ids as
// lost and its duplicated ids as duplicated, and that no arrival came
// sooner than its type's delay.
func checkSets(t *testing.T, rep *load.Report, pipe *pipeline) {
	t.Helper()
	types := map[string]e2e.TypeStats{}
	for _, ts := range rep.E2E.Types {
		types[ts.Name] = ts
	}
	pipe.mu.Lock()
	dropped, dup := slices.Sorted(maps.Keys(pipe.dropped)), slices.Sorted(maps.Keys(pipe.duplicated))
	pipe.mu.Unlock()
	if len(dropped) == 0 || len(dup) == 0 {
		t.Fatalf("the pipeline dropped %d and duplicated %d: the test needs both", len(dropped), len(dup))
	}
	if got := sorted(types["hook"].LostIDs); !slices.Equal(got, dropped) || types["hook"].Lost != uint64(len(dropped)) {
		t.Errorf("hook lost %d %v, the pipeline dropped %v", types["hook"].Lost, got, dropped)
	}
	if got := sorted(types["mail"].DupIDs); !slices.Equal(got, dup) || types["mail"].Duplicated != uint64(len(dup)) {
		t.Errorf("mail duplicated %d %v, the pipeline duplicated %v", types["mail"].Duplicated, got, dup)
	}
	for name, ts := range types {
		if name != "hook" && ts.Lost != 0 || name != "mail" && ts.Duplicated != 0 {
			t.Errorf("%s: lost %d duplicated %d, want none", name, ts.Lost, ts.Duplicated)
		}
		if ts.Arrived+ts.Lost != ts.Messages*uint64(ts.Expect) {
			t.Errorf("%s: arrived %d + lost %d != %d messages x %d", name, ts.Arrived, ts.Lost, ts.Messages, ts.Expect)
		}
	}
	if types["queue"].Arrived == 0 || types["quiet"].Arrived != 0 || rep.E2E.Unexpected != 0 {
		t.Errorf("queue arrived %d, quiet arrived %d, unexpected %d %v", types["queue"].Arrived, types["quiet"].Arrived,
			rep.E2E.Unexpected, rep.E2E.UnexpectedSamples)
	}
	// Per window too: lost and duplicated in the window their message was due.
	for _, ts := range rep.E2E.Types {
		var lost, dup, arrived uint64
		for _, w := range rep.E2E.Windows {
			lost, dup, arrived = lost+w.Types[ts.Name].Lost, dup+w.Types[ts.Name].Duplicated, arrived+w.Types[ts.Name].Arrived
		}
		if lost != ts.Lost || dup != ts.Duplicated || arrived != ts.Arrived {
			t.Errorf("%s: windows hold lost %d, duplicated %d, arrived %d; the run %d, %d, %d", ts.Name, lost, dup, arrived,
				ts.Lost, ts.Duplicated, ts.Arrived)
		}
	}
	if rep.Trace == nil {
		t.Fatal("the report has no trace")
	}
	early, arrivals := countEarly(t, rep)
	if early != 0 || arrivals != types["hook"].Arrived+types["mail"].Arrived+types["mail"].Duplicated+types["queue"].Arrived {
		t.Errorf("%d of %d arrivals came sooner than the pipeline's delay for their type", early, arrivals)
	}
}

func sorted(s []string) []string { return slices.Sorted(slices.Values(s)) }

// countEarly reads the trace and counts arrivals whose latency is below the
// pipeline's delay for their type.
func countEarly(t *testing.T, rep *load.Report) (early, arrivals uint64) {
	t.Helper()
	var buf bytes.Buffer
	if err := rep.WriteTrace(&buf); err != nil {
		t.Fatal(err)
	}
	lines, err := e2e.ReadTrace(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lines {
		for _, a := range l.Arrivals {
			arrivals++
			// From the intended send time, or the actual one when the
			// request left a few microseconds early (as the report counts).
			from := l.Intended
			if l.Sent.Before(from) {
				from = l.Sent
			}
			if a.At.Sub(from) < delays[l.Type] {
				early++
			}
		}
	}
	return early, arrivals
}
