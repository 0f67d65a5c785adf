package load

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/stack-tools/stack/load/scenario"
)

// TypeAttribute is the message attribute that names each SQS message's type,
// so consumers (and tests) can count per type.
const TypeAttribute = "stack-type"

// sqsQueueURL reads an sqs:// target: sqs://https://sqs.REGION.amazonaws.com/ACCOUNT/NAME,
// or the queue URL without its scheme (https is assumed).
func sqsQueueURL(target string) (*url.URL, error) {
	rest := strings.TrimPrefix(target, "sqs://")
	if !strings.HasPrefix(rest, "http://") && !strings.HasPrefix(rest, "https://") {
		rest = "https://" + rest
	}
	u, err := url.Parse(rest)
	if err != nil || u.Host == "" || strings.Trim(u.Path, "/") == "" {
		return nil, fmt.Errorf("target %q: want sqs://QUEUE_URL, such as sqs://https://sqs.us-east-1.amazonaws.com/123456789012/inbound", target)
	}
	return u, nil
}

var regionInHost = regexp.MustCompile(`^sqs\.([a-z0-9-]+)\.amazonaws\.com`)

// newSQSClient configures the SDK from the environment (credentials, region,
// AWS_ENDPOINT_URL); a queue URL that is not on amazonaws.com is its own
// endpoint unless the environment names one.
func newSQSClient(ctx context.Context, q *url.URL, timeout time.Duration) (*sqs.Client, error) {
	var opts []func(*config.LoadOptions) error
	if m := regionInHost.FindStringSubmatch(q.Host); m != nil {
		opts = append(opts, config.WithRegion(m[1]))
	} else if os.Getenv("AWS_REGION") == "" && os.Getenv("AWS_DEFAULT_REGION") == "" {
		opts = append(opts, config.WithRegion("us-east-1"))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("sqs target: loading AWS configuration: %w", err)
	}
	return sqs.NewFromConfig(cfg, func(o *sqs.Options) {
		if !strings.HasSuffix(q.Hostname(), ".amazonaws.com") && os.Getenv("AWS_ENDPOINT_URL") == "" && os.Getenv("AWS_ENDPOINT_URL_SQS") == "" {
			o.BaseEndpoint = aws.String(q.Scheme + "://" + q.Host)
		}
		o.HTTPClient = awsHTTPClient(timeout)
	}), nil
}

// sqsBatcher gathers the messages of every sender into SendMessageBatch calls.
type sqsBatcher struct {
	client   *sqs.Client
	queue    string
	fifo     bool
	batch    int
	wait     time.Duration
	timeout  time.Duration
	types    []string
	in       chan *sqsEntry
	mu       sync.Mutex
	senders  int
	inFlight sync.WaitGroup
}

type sqsEntry struct {
	body, typ, id string
	group         string
	// deadline is when the sender stops waiting: no retry starts after it,
	// so a message reported as timed out is not delivered later by a retry.
	deadline time.Time
	done     chan error
}

const sqsMaxBatchBytes = 256 << 10

func newSQSSenders(ctx context.Context, c Config, gen *scenario.Generator) (func() sender, error) {
	q, err := sqsQueueURL(c.Target)
	if err != nil {
		return nil, err
	}
	if c.Batch == 0 {
		c.Batch = 10
	}
	if c.Batch < 1 || c.Batch > 10 {
		return nil, fmt.Errorf("batch %d: SQS takes 1 to 10 messages per SendMessageBatch", c.Batch)
	}
	if c.BatchWait == 0 {
		c.BatchWait = 5 * time.Millisecond
	}
	client, err := newSQSClient(ctx, q, c.Timeout)
	if err != nil {
		return nil, err
	}
	b := &sqsBatcher{client: client, queue: q.String(), fifo: strings.HasSuffix(q.Path, ".fifo"), batch: c.Batch,
		wait: c.BatchWait, timeout: c.Timeout, in: make(chan *sqsEntry, 4*c.Batch)}
	for _, t := range gen.Types {
		b.types = append(b.types, t.Name)
	}
	go b.loop()
	return func() sender {
		b.mu.Lock()
		b.senders++
		b.mu.Unlock()
		return &sqsSender{b: b}
	}, nil
}

// sqsSender hands one message at a time to the batcher and waits for its entry.
type sqsSender struct {
	b      *sqsBatcher
	closed bool
}

func (s *sqsSender) warm(context.Context, time.Time) {}

func (s *sqsSender) close() {
	if s.closed {
		return
	}
	s.closed = true
	s.b.mu.Lock()
	s.b.senders--
	last := s.b.senders == 0
	s.b.mu.Unlock()
	if last {
		close(s.b.in)
	}
}

func (s *sqsSender) send(ctx context.Context, m *scenario.Message, deadline time.Time) (int, int64, error) {
	e := &sqsEntry{body: string(m.Body), typ: s.b.types[m.Type], id: m.ID, deadline: deadline, done: make(chan error, 1)}
	if s.b.fifo {
		e.group = "sender-" + strconv.Itoa(m.Sender)
	}
	s.b.in <- e
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case err := <-e.done:
		if err != nil {
			return 0, 0, err
		}
		return 200, 0, nil
	case <-ctx.Done():
		return 0, 0, ctx.Err()
	case <-timer.C:
		return 0, 0, errors.New("sqs: no answer to SendMessageBatch before the timeout")
	}
}

func (b *sqsBatcher) loop() {
	var pending []*sqsEntry
	size := 0
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	flush := func() {
		timer.Stop()
		batch := pending
		pending, size = nil, 0
		b.inFlight.Add(1)
		go func() { defer b.inFlight.Done(); b.sendBatch(batch) }()
	}
	for {
		select {
		case e, ok := <-b.in:
			if !ok {
				if len(pending) > 0 {
					flush()
				}
				b.inFlight.Wait()
				return
			}
			if len(pending) > 0 && size+len(e.body) > sqsMaxBatchBytes {
				flush()
			}
			pending = append(pending, e)
			size += len(e.body)
			if len(pending) == 1 {
				timer.Reset(b.wait)
			}
			if len(pending) >= b.batch {
				flush()
			}
		case <-timer.C:
			if len(pending) > 0 {
				flush()
			}
		}
	}
}

// sendBatch sends entries in one call. Entries SQS failed through no fault of
// the sender are sent again (up to 3 attempts); a call SQS refuses as a whole
// because of what one entry holds (too long, invalid characters...) is split
// into one call per entry, so one bad message does not fail its batch-mates.
func (b *sqsBatcher) sendBatch(entries []*sqsEntry) {
	for attempt := 1; len(entries) > 0; attempt++ {
		req := &sqs.SendMessageBatchInput{QueueUrl: aws.String(b.queue)}
		byID := make(map[string]*sqsEntry, len(entries))
		for i, e := range entries {
			id := strconv.Itoa(i)
			byID[id] = e
			in := types.SendMessageBatchRequestEntry{Id: aws.String(id), MessageBody: aws.String(e.body),
				MessageAttributes: map[string]types.MessageAttributeValue{
					TypeAttribute: {DataType: aws.String("String"), StringValue: aws.String(e.typ)}}}
			if b.fifo {
				in.MessageGroupId = aws.String(e.group)
				in.MessageDeduplicationId = aws.String(e.id)
			}
			req.Entries = append(req.Entries, in)
		}
		ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
		out, err := b.client.SendMessageBatch(ctx, req)
		cancel()
		if err != nil {
			if len(entries) > 1 && entryFault(err) {
				var wg sync.WaitGroup
				for _, e := range entries {
					wg.Add(1)
					go func() { defer wg.Done(); b.sendBatch([]*sqsEntry{e}) }()
				}
				wg.Wait()
				return
			}
			err = sqsError(err)
			for _, e := range entries {
				e.done <- err
			}
			return
		}
		for _, ok := range out.Successful {
			if e := byID[aws.ToString(ok.Id)]; e != nil {
				e.done <- nil
				delete(byID, aws.ToString(ok.Id))
			}
		}
		var retry []*sqsEntry
		for _, f := range out.Failed {
			e := byID[aws.ToString(f.Id)]
			if e == nil {
				continue
			}
			delete(byID, aws.ToString(f.Id))
			if !f.SenderFault && attempt < 3 && time.Now().Before(e.deadline) {
				retry = append(retry, e)
				continue
			}
			e.done <- fmt.Errorf("sqs: %s: %s", aws.ToString(f.Code), aws.ToString(f.Message))
		}
		for _, e := range byID { // neither successful nor failed: should not happen
			e.done <- errors.New("sqs: SendMessageBatch did not report this entry")
		}
		entries = retry
		if len(retry) > 0 {
			time.Sleep(time.Duration(attempt) * 50 * time.Millisecond)
		}
	}
}

// entryFault says whether SQS refused a batch because of what an entry holds.
func entryFault(err error) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	code := ae.ErrorCode()
	for _, c := range []string{"InvalidParameterValue", "TooLong", "InvalidMessageContents", "InvalidAttribute", "MessageAttributes"} {
		if strings.Contains(code, c) {
			return true
		}
	}
	return false
}

// sqsError keeps the error text short and free of request ids, so equal
// failures count together in the report.
func sqsError(err error) error {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return fmt.Errorf("sqs: %s: %s", ae.ErrorCode(), ae.ErrorMessage())
	}
	return fmt.Errorf("sqs: %w", err)
}
