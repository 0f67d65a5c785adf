package probe

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// SQSClient is the part of the SQS API the reader uses.
type SQSClient interface {
	ReceiveMessage(context.Context, *sqs.ReceiveMessageInput, ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessageBatch(context.Context, *sqs.DeleteMessageBatchInput, ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
}

// DrainSQS reads the queue until ctx ends: each message is recorded (body,
// message attributes as headers, arrival = when the reader received it, which
// is never before the pipeline wrote it) and deleted only once it is on disk.
// A reader killed between the two records the message again when it comes
// back: at-least-once, never lost.
func (r *Recorder) DrainSQS(ctx context.Context, c SQSClient, queueURL string, wait time.Duration) error {
	r.seen = recentSQS(r.Journal)
	for ctx.Err() == nil {
		out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(queueURL), MaxNumberOfMessages: 10, WaitTimeSeconds: int32(wait / time.Second),
			MessageAttributeNames:       []string{"All"},
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameSentTimestamp},
		})
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("probe %s: receiving from %s: %w", r.Name, queueURL, err)
		}
		if err := r.recordSQS(ctx, c, queueURL, out.Messages); err != nil {
			return err
		}
	}
	return nil
}

func (r *Recorder) recordSQS(ctx context.Context, c SQSClient, queueURL string, msgs []types.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	var del []types.DeleteMessageBatchRequestEntry
	for i, m := range msgs {
		del = append(del, types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle})
		if r.seen.has(aws.ToString(m.MessageId)) {
			continue // recorded before a restart that came before its delete
		}
		at := r.now()
		h := map[string]string{"Message-Id": aws.ToString(m.MessageId),
			"Sent-Timestamp": m.Attributes[string(types.MessageSystemAttributeNameSentTimestamp)]}
		for k, v := range m.MessageAttributes {
			h[k] = aws.ToString(v.StringValue)
		}
		a := &Arrival{At: at.UTC(), Probe: r.Name, Kind: "sqs", Header: h, Body: aws.ToString(m.Body)}
		if err := r.Journal.Append(ctx, a); err != nil {
			return fmt.Errorf("probe %s: %w", r.Name, err)
		}
		r.seen.add(aws.ToString(m.MessageId))
	}
	_, err := c.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(queueURL), Entries: del})
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("probe %s: deleting from %s: %w", r.Name, queueURL, err)
	}
	return nil
}

// recent remembers the SQS message ids recorded lately, so a message
// received again after a restart (recorded, not yet deleted) is not recorded
// twice: SQS redelivers within its visibility timeout, far fewer messages
// than the window kept.
type recent struct {
	ids  map[string]bool
	ring []string
	next int
}

const recentSQSIDs = 100000

func (s *recent) has(id string) bool { return s.ids[id] }

func (s *recent) add(id string) {
	if old := s.ring[s.next]; old != "" {
		delete(s.ids, old)
	}
	s.ring[s.next], s.ids[id] = id, true
	s.next = (s.next + 1) % len(s.ring)
}

// recentSQS loads the SQS message ids of the journal's last records.
func recentSQS(j *Journal) *recent {
	s := &recent{ids: map[string]bool{}, ring: make([]string, recentSQSIDs)}
	n := j.Len()
	from := n - min(n, recentSQSIDs)
	for from < n {
		b, next, err := j.Read(from, 10000)
		if err != nil || next == from {
			break
		}
		for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
			var a Arrival
			if json.Unmarshal(line, &a) == nil && a.Kind == "sqs" && a.Header["Message-Id"] != "" {
				s.add(a.Header["Message-Id"])
			}
		}
		from = next
	}
	return s
}
