package load_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/stack-tools/stack/internal/testenv"
	"github.com/stack-tools/stack/load"
	"github.com/stack-tools/stack/load/pace"
	"github.com/stack-tools/stack/load/scenario"
)

// startSQSQueue starts moto, points the SDK's environment at it and creates a
// queue; it returns a client that talks to moto directly, and the queue URL.
func startSQSQueue(t *testing.T, attrs map[string]string) (*testenv.Moto, *sqs.Client, string) {
	t.Helper()
	m, err := testenv.StartMoto()
	if err != nil {
		testenv.Missing(t, err)
	}
	t.Cleanup(m.Stop)
	for _, kv := range m.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	client := sqs.NewFromConfig(cfg)
	q, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("inbound-" + strings.ToLower(t.Name())),
		Attributes: attrs})
	if err != nil {
		t.Fatal(err)
	}
	return m, client, aws.ToString(q.QueueUrl)
}

func loadScenario(t *testing.T, files map[string]string) *scenario.Scenario {
	t.Helper()
	dir := t.TempDir()
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

// receiveAll takes want messages off the queue (deleting them), then checks
// the queue is empty; it returns the messages' body "id" fields with how many
// times each came, per type.
func receiveAll(t *testing.T, client *sqs.Client, queue string, want uint64) map[string]map[string]int {
	t.Helper()
	ctx := context.Background()
	got := map[string]map[string]int{}
	var total uint64
	// Generous: moto is slow on a busy machine. The loop ends on the count.
	deadline := time.Now().Add(2 * time.Minute)
	for extra := false; ; {
		out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(queue), MaxNumberOfMessages: 10,
			WaitTimeSeconds: 1, MessageAttributeNames: []string{"All"}})
		if err != nil {
			t.Fatal(err)
		}
		var del []types.DeleteMessageBatchRequestEntry
		for i, msg := range out.Messages {
			var body struct{ ID string }
			if err := json.Unmarshal([]byte(aws.ToString(msg.Body)), &body); err != nil || body.ID == "" {
				t.Fatalf("message body %q has no id: %v", aws.ToString(msg.Body), err)
			}
			typ := aws.ToString(msg.MessageAttributes[load.TypeAttribute].StringValue)
			if got[typ] == nil {
				got[typ] = map[string]int{}
			}
			got[typ][body.ID]++
			total++
			del = append(del, types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: msg.ReceiptHandle})
		}
		if len(del) > 0 {
			if _, err := client.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(queue), Entries: del}); err != nil {
				t.Fatal(err)
			}
		}
		// One more receive after the count is reached shows what is left over.
		if extra || (total < want && time.Now().After(deadline)) {
			return got
		}
		extra = total >= want
	}
}

// An SQS target gets every message through SendMessageBatch: what was sent
// comes back from the queue, per type; an entry SQS refuses (a body over the
// queue's maximum size, which moto rejects for the whole batch) is sent again
// on its own, so it fails alone and its batch-mates still arrive.
func TestSQSTargetDeliversEveryMessageInBatches(t *testing.T) {
	_, client, queue := startSQSQueue(t, map[string]string{"MaximumMessageSize": "1024"})
	sc := loadScenario(t, map[string]string{
		"scenario.json": `{"name": "sqs-test", "types": [
			{"name": "sms", "weight": 3, "body": "sms.tmpl"},
			{"name": "mms", "weight": 1, "body": "mms.tmpl"},
			{"name": "oversized", "weight": 1, "body": "big.tmpl"}]}`,
		"sms.tmpl": `{"from": "{{.Sender.Phone}}", "body": "{{word}}", "id": "{{.MessageID}}"}`,
		"mms.tmpl": `{"from": "{{.Sender.Phone}}", "media": "{{uuid}}", "id": "{{.MessageID}}"}`,
		"big.tmpl": `{"id": "{{.MessageID}}", "pad": "{{digits 1100}}"}`,
	})
	const n = 300
	rep, err := load.Run(context.Background(), load.Config{Scenario: sc, Target: "sqs://" + queue,
		Rate: pace.Spec{Rate: 200}, Requests: n, Batch: 10, Options: scenario.Options{Seed: 3},
		// moto answers slowly on a busy machine; a timed-out entry may still
		// arrive, which would break the count below.
		Timeout: 2 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("sent in %.1fs, p50 %.1fms", rep.Seconds, rep.Total.Latency.P50)
	sent := map[string]load.Stats{}
	for _, ty := range rep.Types {
		sent[ty.Name] = ty.Stats
	}
	if rep.Total.Sent != n {
		t.Fatalf("sent %d, want %d", rep.Total.Sent, n)
	}
	big := sent["oversized"]
	if big.Sent == 0 || big.Errors != big.Sent || big.Success != 0 {
		t.Errorf("oversized: %+v; want every one refused", big)
	}
	for text := range big.ErrorTexts {
		if !strings.Contains(text, "InvalidParameterValue") || !strings.Contains(text, "1024 bytes") {
			t.Errorf("oversized error %q does not say why", text)
		}
	}
	for _, name := range []string{"sms", "mms"} {
		if s := sent[name]; s.Sent == 0 || s.Success != s.Sent || s.Latency.P50 <= 0 {
			t.Errorf("%s: %+v; want every message accepted, with a latency", name, s)
		}
	}

	// What SQS accepted is on the queue: receive it all back, per type.
	got := receiveAll(t, client, queue, sent["sms"].Success+sent["mms"].Success)
	if count(got["sms"]) != sent["sms"].Success || count(got["mms"]) != sent["mms"].Success || len(got["oversized"]) != 0 {
		t.Errorf("received back sms %d, mms %d, oversized %d; sent sms %d, mms %d (oversized refused)",
			count(got["sms"]), count(got["mms"]), count(got["oversized"]), sent["sms"].Success, sent["mms"].Success)
	}
}

func count(ids map[string]int) uint64 {
	var n uint64
	for _, c := range ids {
		n += uint64(c)
	}
	return n
}

// An entry SQS fails through no fault of the sender (as AWS reports a
// throttled entry) is sent again: it arrives exactly once, and one that fails
// on every attempt is reported as an error after the last attempt. A proxy in
// front of moto takes chosen entries out of SendMessageBatch calls, so moto
// never gets them, and reports them failed.
func TestSQSTargetRetriesFailedEntries(t *testing.T) {
	m, client, queue := startSQSQueue(t, nil)
	sc := loadScenario(t, map[string]string{
		"scenario.json": `{"name": "sqs-retry", "types": [
			{"name": "sms", "weight": 3, "body": "sms.tmpl"},
			{"name": "mms", "weight": 1, "body": "mms.tmpl"}]}`,
		"sms.tmpl": `{"from": "{{.Sender.Phone}}", "body": "{{word}}", "id": "{{.MessageID}}"}`,
		"mms.tmpl": `{"from": "{{.Sender.Phone}}", "media": "{{uuid}}", "id": "{{.MessageID}}"}`,
	})
	// Entries are numbered in the order the proxy first sees them; these fail
	// that many times (forever: -1), all within the first few batches.
	const attempts = 3 // load/sqs.go's limit
	failures := map[int]int{2: 1, 3: 1, 9: 1, 10: 2, 14: -1, 17: 1, 21: 1, 22: 1, 25: 2, 26: -1}
	proxy := startSQSFaultProxy(t, m.Endpoint(), func(k int) int { return failures[k] })
	t.Setenv("AWS_ENDPOINT_URL", proxy.url) // the load run's client goes through the proxy

	const n = 200
	rep, err := load.Run(context.Background(), load.Config{Scenario: sc, Target: "sqs://" + queue,
		Rate: pace.Spec{Rate: 1000}, Requests: n, Batch: 10, BatchWait: 100 * time.Millisecond,
		Options: scenario.Options{Seed: 5}, Timeout: 2 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	p := proxy.result()
	t.Logf("sent in %.1fs; proxy saw %d calls, %d entries, dropped %d", rep.Seconds, p.calls, p.entries, p.dropped)
	if len(p.msgs) != n {
		t.Fatalf("proxy saw %d distinct messages, want %d", len(p.msgs), n)
	}
	// What the proxy did, per type: messages that failed on every attempt,
	// and retries.
	lost, retried := map[string]uint64{}, 0
	for _, msg := range p.msgs {
		want := 1
		switch f := failures[msg.order]; {
		case f < 0:
			want = attempts
			lost[msg.typ]++
		case f > 0:
			want = f + 1
			retried++
		}
		if msg.offered != want {
			t.Errorf("message %d (%s) offered %d times, failed %d times by the proxy; want %d offers", msg.order, msg.id, msg.offered, failures[msg.order], want)
		}
	}
	if retried == 0 || lost["sms"]+lost["mms"] == 0 {
		t.Fatalf("proxy retried %d and lost %v messages: the test injected too little", retried, lost)
	}

	if rep.Total.Sent != n || rep.Total.Errors != lost["sms"]+lost["mms"] {
		t.Errorf("report: sent %d, errors %d; want %d sent, %d errors", rep.Total.Sent, rep.Total.Errors, n, lost["sms"]+lost["mms"])
	}
	for text, c := range rep.Total.ErrorTexts {
		if !strings.Contains(text, "InternalError") || c != lost["sms"]+lost["mms"] {
			t.Errorf("error %q counted %d times; want the proxy's InternalError, %d times", text, c, lost["sms"]+lost["mms"])
		}
	}
	sent := map[string]load.Stats{}
	for _, ty := range rep.Types {
		sent[ty.Name] = ty.Stats
	}
	for _, name := range []string{"sms", "mms"} {
		if s := sent[name]; s.Sent == 0 || s.Errors != lost[name] || s.Success != s.Sent-lost[name] {
			t.Errorf("%s: sent %d, success %d, errors %d; want %d errors", name, s.Sent, s.Success, s.Errors, lost[name])
		}
	}

	// moto got every message but the lost ones, each once. (Receive what the
	// report says arrived, so a wrong report fails here at once.)
	got := receiveAll(t, client, queue, sent["sms"].Success+sent["mms"].Success)
	for _, msg := range p.msgs {
		want := 1
		if failures[msg.order] < 0 {
			want = 0
		}
		if c := got[msg.typ][msg.id]; c != want {
			t.Errorf("message %d (%s, %s) received %d times, want %d", msg.order, msg.typ, msg.id, c, want)
		}
	}
	for _, name := range []string{"sms", "mms"} {
		if c := count(got[name]); c != sent[name].Success {
			t.Errorf("received %d %s, the report says %d were sent", c, name, sent[name].Success)
		}
	}
	for name, ids := range got {
		if name != "sms" && name != "mms" {
			t.Errorf("received %d messages of type %q, want only sms and mms", count(ids), name)
		}
	}
}

// sqsFaultProxy is a reverse proxy in front of moto that fails chosen entries
// of SendMessageBatch calls: it takes them out of the request, so moto never
// gets them, and adds them to the answer's Failed list as a retryable
// InternalError. It speaks AWS JSON 1.0, as the SDK does; should the SDK
// change protocol, the proxy sees no message and the test says so.
type sqsFaultProxy struct {
	url  string
	fail func(order int) int // how many times the order-th message fails; -1: always
	rp   *httputil.ReverseProxy

	mu                      sync.Mutex
	msgs                    map[string]*proxiedMessage // by the body's id
	calls, entries, dropped int
}

type proxiedMessage struct {
	id, typ string
	order   int // when the proxy first saw it
	offered int // how many SendMessageBatch calls carried it
}

type proxyResult struct {
	msgs                    []proxiedMessage
	calls, entries, dropped int
}

// failedKey holds, in the forwarded request's context, the Failed entries
// the answer must get.
type failedKey struct{}

func startSQSFaultProxy(t *testing.T, moto string, fail func(order int) int) *sqsFaultProxy {
	t.Helper()
	target, err := url.Parse(moto)
	if err != nil {
		t.Fatal(err)
	}
	p := &sqsFaultProxy{fail: fail, msgs: map[string]*proxiedMessage{}}
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Header.Del("Accept-Encoding") // a plain answer, to edit
		},
		ModifyResponse: addFailed,
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	p.url = srv.URL
	return p
}

func (p *sqsFaultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-Amz-Target") != "AmazonSQS.SendMessageBatch" {
		p.rp.ServeHTTP(w, r)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var req map[string]json.RawMessage
	var entries []json.RawMessage
	err = json.Unmarshal(body, &req)
	if err == nil {
		err = json.Unmarshal(req["Entries"], &entries)
	}
	if err != nil {
		http.Error(w, "proxy: reading SendMessageBatch: "+err.Error(), http.StatusBadRequest)
		return
	}
	p.mu.Lock()
	p.calls++
	p.mu.Unlock()
	var keep, failed []json.RawMessage
	for _, raw := range entries {
		fail, err := p.choose(raw)
		if err != nil {
			http.Error(w, "proxy: "+err.Error(), http.StatusBadRequest)
			return
		}
		if fail == nil {
			keep = append(keep, raw)
		} else {
			failed = append(failed, fail)
		}
	}
	if len(keep) == 0 { // moto refuses an empty batch: answer for it
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		_ = json.NewEncoder(w).Encode(map[string]any{"Successful": []any{}, "Failed": failed})
		return
	}
	if req["Entries"], err = json.Marshal(keep); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if body, err = json.Marshal(req); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
	r.Header.Del("Content-Length")
	p.rp.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), failedKey{}, failed)))
}

// choose counts one entry and returns its Failed record if it is to fail.
func (p *sqsFaultProxy) choose(raw json.RawMessage) (json.RawMessage, error) {
	var e struct {
		ID                string `json:"Id"`
		MessageBody       string
		MessageAttributes map[string]struct{ StringValue string }
	}
	var body struct{ ID string }
	if err := json.Unmarshal(raw, &e); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(e.MessageBody), &body); err != nil || body.ID == "" {
		return nil, fmt.Errorf("entry %s: body %q has no id: %v", e.ID, e.MessageBody, err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.entries++
	m := p.msgs[body.ID]
	if m == nil {
		m = &proxiedMessage{id: body.ID, typ: e.MessageAttributes[load.TypeAttribute].StringValue, order: len(p.msgs)}
		p.msgs[body.ID] = m
	}
	m.offered++
	if n := p.fail(m.order); n >= 0 && m.offered > n {
		return nil, nil
	}
	p.dropped++
	return json.Marshal(map[string]any{"Id": e.ID, "Code": "InternalError", "SenderFault": false,
		"Message": "dropped by the test's proxy"})
}

// addFailed adds the entries the proxy kept from moto to moto's answer.
func addFailed(resp *http.Response) error {
	failed, _ := resp.Request.Context().Value(failedKey{}).([]json.RawMessage)
	if len(failed) == 0 || resp.StatusCode != http.StatusOK {
		return nil
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	var out map[string]json.RawMessage
	var already []json.RawMessage
	if err := json.Unmarshal(body, &out); err != nil {
		return fmt.Errorf("proxy: moto's SendMessageBatch answer: %w", err)
	}
	if f, ok := out["Failed"]; ok {
		if err := json.Unmarshal(f, &already); err != nil {
			return fmt.Errorf("proxy: moto's Failed list: %w", err)
		}
	}
	if out["Failed"], err = json.Marshal(append(already, failed...)); err != nil {
		return err
	}
	if body, err = json.Marshal(out); err != nil {
		return err
	}
	resp.Body, resp.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
	resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	return nil
}

func (p *sqsFaultProxy) result() proxyResult {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := proxyResult{calls: p.calls, entries: p.entries, dropped: p.dropped}
	for _, m := range p.msgs {
		r.msgs = append(r.msgs, *m)
	}
	return r
}
