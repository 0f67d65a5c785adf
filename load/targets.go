package load

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/stack-tools/stack/load/scenario"
)

// senders picks how messages leave for the run's target: SendMessageBatch for
// sqs:// targets, PUB for nsq:// ones, Produce for kafka:// ones, HTTP
// otherwise.
func (c *Config) senders(ctx context.Context, gen *scenario.Generator, reg *connRegistry) (func() sender, error) {
	switch {
	case c.Canned != nil:
		return newCannedSenders(*c), nil
	case IsSQS(c.Target):
		return newSQSSenders(ctx, *c, gen)
	case IsNSQ(c.Target):
		return newNSQSenders(*c, gen)
	case IsKafka(c.Target):
		return newKafkaSenders(*c, gen)
	}
	return newSenderFunc(*c, gen, reg), nil
}

// IsBroker says whether a target is a message broker's (sqs://, nsq://,
// kafka://) rather than an HTTP URL.
func IsBroker(target string) bool { return IsSQS(target) || IsNSQ(target) || IsKafka(target) }

// IsSQS says whether a target is an SQS queue (sqs://QUEUE_URL).
func IsSQS(target string) bool { return strings.HasPrefix(target, "sqs://") }

// generatorTarget is the base URL the scenario generator sees: for an SQS
// target, sqs://HOST/PATH of the queue (the generator only names it).
func generatorTarget(target string) string {
	if IsKafka(target) {
		return kafkaGeneratorTarget(target)
	}
	if !IsSQS(target) {
		return target
	}
	q, err := sqsQueueURL(target)
	if err != nil {
		return target
	}
	return "sqs://" + q.Host + q.Path
}

// waitUntil sleeps until t (no-op for the zero time) or until ctx ends.
func waitUntil(ctx context.Context, t time.Time) {
	if t.IsZero() {
		return
	}
	d := time.Until(t)
	if d <= 0 {
		return
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-ctx.Done():
	}
}

// awsHTTPClient is the SDK's HTTP client for load: many connections to one host.
func awsHTTPClient(timeout time.Duration) *http.Client {
	return &http.Client{Transport: newStdTransport(1024, false, timeout)}
}
