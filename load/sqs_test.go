package load_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
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

// An SQS target gets every message through SendMessageBatch: what was sent
// comes back from the queue, per type; an entry SQS refuses (a body over the
// queue's maximum size, which moto rejects for the whole batch) is sent again
// on its own, so it fails alone and its batch-mates still arrive.
func TestSQSTargetDeliversEveryMessageInBatches(t *testing.T) {
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
		Attributes: map[string]string{"MaximumMessageSize": "1024"}})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, text := range map[string]string{
		"scenario.json": `{"name": "sqs-test", "types": [
			{"name": "sms", "weight": 3, "body": "sms.tmpl"},
			{"name": "mms", "weight": 1, "body": "mms.tmpl"},
			{"name": "oversized", "weight": 1, "body": "big.tmpl"}]}`,
		"sms.tmpl": `{"from": "{{.Sender.Phone}}", "body": "{{word}}", "id": "{{.MessageID}}"}`,
		"mms.tmpl": `{"from": "{{.Sender.Phone}}", "media": "{{uuid}}", "id": "{{.MessageID}}"}`,
		"big.tmpl": `{"id": "{{.MessageID}}", "pad": "{{digits 1100}}"}`,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sc, err := scenario.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	const n = 300
	rep, err := load.Run(ctx, load.Config{Scenario: sc, Target: "sqs://" + aws.ToString(q.QueueUrl),
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
	got := map[string]uint64{}
	want := sent["sms"].Success + sent["mms"].Success
	deadline := time.Now().Add(time.Minute)
	var total uint64
	for total < want && time.Now().Before(deadline) {
		out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, MaxNumberOfMessages: 10,
			WaitTimeSeconds: 1, MessageAttributeNames: []string{"All"}})
		if err != nil {
			t.Fatal(err)
		}
		var del []types.DeleteMessageBatchRequestEntry
		for i, msg := range out.Messages {
			got[aws.ToString(msg.MessageAttributes[load.TypeAttribute].StringValue)]++
			total++
			del = append(del, types.DeleteMessageBatchRequestEntry{Id: aws.String(string(rune('a' + i))), ReceiptHandle: msg.ReceiptHandle})
		}
		if len(del) > 0 {
			if _, err := client.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: q.QueueUrl, Entries: del}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got["sms"] != sent["sms"].Success || got["mms"] != sent["mms"].Success || got["oversized"] != 0 {
		t.Errorf("received back %v; sent sms %d, mms %d (oversized refused)", got, sent["sms"].Success, sent["mms"].Success)
	}
}
