package load_test

import (
	"context"
	"encoding/json"
	"io"
	"log"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	nsq "github.com/nsqio/go-nsq"

	"github.com/stack-tools/stack/internal/testenv"
	"github.com/stack-tools/stack/load"
	"github.com/stack-tools/stack/load/pace"
	"github.com/stack-tools/stack/load/scenario"
)

// nsqCounter consumes topics and counts each message id per topic.
type nsqCounter struct {
	mu    sync.Mutex
	ids   map[string]map[string]int // topic -> id -> times
	total int
	cons  []*nsq.Consumer
}

func consumeNSQ(t *testing.T, topics ...string) *nsqCounter {
	t.Helper()
	c := &nsqCounter{ids: map[string]map[string]int{}}
	for _, topic := range topics {
		c.ids[topic] = map[string]int{}
		cfg := nsq.NewConfig()
		cfg.MaxInFlight = 100
		cons, err := nsq.NewConsumer(topic, "test", cfg)
		if err != nil {
			t.Fatal(err)
		}
		cons.SetLogger(log.New(io.Discard, "", 0), nsq.LogLevelError)
		cons.AddHandler(nsq.HandlerFunc(func(m *nsq.Message) error {
			var body struct{ ID string }
			if err := json.Unmarshal(m.Body, &body); err != nil || body.ID == "" {
				t.Errorf("message %q has no id: %v", m.Body, err)
			}
			c.mu.Lock()
			c.ids[topic][body.ID]++
			c.total++
			c.mu.Unlock()
			return nil
		}))
		if err := cons.ConnectToNSQD(nsqd.TCPAddr); err != nil {
			t.Fatal(err)
		}
		c.cons = append(c.cons, cons)
	}
	t.Cleanup(func() {
		for _, cons := range c.cons {
			cons.Stop()
		}
	})
	return c
}

func (c *nsqCounter) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total
}

// waitFor waits until cond holds; the deadline only bounds a broken run.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var brokerScenario = map[string]string{
	"scenario.json": `{"name": "broker-test", "types": [
		{"name": "sms", "weight": 3, "body": "sms.tmpl"},
		{"name": "mms", "weight": 1, "body": "mms.tmpl"}]}`,
	"sms.tmpl": `{"from": "{{.Sender.Phone}}", "body": "{{word}}", "id": "{{.MessageID}}"}`,
	"mms.tmpl": `{"from": "{{.Sender.Phone}}", "media": "{{uuid}}", "id": "{{.MessageID}}"}`,
}

// An NSQ target gets every message, on one topic per type; the proxy in
// front of nsqd cuts every connection once a third has arrived and refuses
// new ones until a producer has met the refusal: the PUBs in the way are
// sent again and arrive. NSQ delivers at least once, so a PUB nsqd had taken
// before the cut may arrive twice; every id arrives, and none goes missing.
func TestNSQTargetDeliversEveryMessageThroughABrokerFailure(t *testing.T) {
	if nsqd == nil {
		testenv.Missing(t, nsqdErr)
	}
	proxy, err := testenv.StartProxy(nsqd.TCPAddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	const n = 400
	got := consumeNSQ(t, "nsqtest-sms", "nsqtest-mms")
	sc := loadScenario(t, brokerScenario)
	type runResult struct {
		rep *load.Report
		err error
	}
	done := make(chan runResult, 1)
	var ended atomic.Bool
	go func() {
		defer ended.Store(true)
		rep, err := load.Run(context.Background(), load.Config{Scenario: sc, Target: "nsq://" + proxy.Addr + "/nsqtest-{type}",
			Rate: pace.Spec{Rate: 40}, Requests: n, Options: scenario.Options{Seed: 5}, Timeout: time.Minute})
		done <- runResult{rep, err}
	}()
	waitFor(t, "a third of the messages", func() bool { return got.count() >= n/3 })
	proxy.Cut()
	cutAt := got.count()
	waitFor(t, "a producer to meet the cut", func() bool { return proxy.Refused() > 0 || ended.Load() })
	proxy.Restore()
	if proxy.Refused() == 0 {
		t.Fatalf("the run ended before a producer met the cut (cut after %d of %d): the test proves nothing", cutAt, n)
	}
	res := <-done
	if res.err != nil {
		t.Fatal(res.err)
	}
	rep := res.rep
	if cutAt >= n {
		t.Fatalf("the run ended before the cut (%d consumed): the test proves nothing", cutAt)
	}
	if rep.Total.Sent != n || rep.Total.Success != n || rep.Total.Errors != 0 {
		t.Fatalf("sent %d, success %d, errors %d %v; want all %d through", rep.Total.Sent, rep.Total.Success, rep.Total.Errors, rep.Total.ErrorTexts, n)
	}
	waitFor(t, "every message consumed", func() bool { return got.count() >= n })
	got.mu.Lock()
	defer got.mu.Unlock()
	dups := got.total - n
	for _, ty := range rep.Types {
		ids := got.ids["nsqtest-"+ty.Name]
		if uint64(len(ids)) != ty.Success {
			t.Errorf("type %s: %d distinct messages consumed, %d sent", ty.Name, len(ids), ty.Success)
		}
	}
	t.Logf("cut after %d consumed; %d duplicates (at-least-once), %d connections refused", cutAt, dups, proxy.Refused())
}

func TestNSQTargetErrors(t *testing.T) {
	sc := loadScenario(t, brokerScenario)
	for target, want := range map[string]string{
		"nsq:///topic":               "nsq://NSQD:4150/TOPIC",
		"nsq://127.0.0.1:1/a b":      "NSQ topics are",
		"nsq://127.0.0.1:1/a/b/c":    "want nsq://",
		"nsq://127.0.0.1:1/x{type}!": "NSQ topics are",
	} {
		_, err := load.Run(context.Background(), load.Config{Scenario: sc, Target: target, Rate: pace.Spec{Rate: 10}, Requests: 1})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", target, err, want)
		}
	}
}
