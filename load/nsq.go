package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	nsq "github.com/nsqio/go-nsq"

	"github.com/stack-tools/stack/load/scenario"
)

// NSQ targets: nsq://NSQD_HOST:4150/TOPIC. Each message is PUBlished to one
// nsqd (its TCP port); a topic with "{type}" in it gets one topic per
// message type (events-{type} -> events-sms, events-mms), which is how a
// consumer tells types apart: NSQ messages carry no headers.
//
// Delivery is at least once, as NSQ's is: a PUB counts as sent when nsqd
// answers OK (the message is in the topic, in memory or on disk). A PUB
// whose connection fails is sent again on a new connection until the
// request timeout; one that nsqd had already taken when the
// connection broke then arrives twice. NSQ has no producer idempotence to
// prevent that.

// IsNSQ says whether a target is an NSQ topic (nsq://HOST:PORT/TOPIC).
func IsNSQ(target string) bool { return strings.HasPrefix(target, "nsq://") }

var nsqTopicName = regexp.MustCompile(`^[.a-zA-Z0-9_-]{1,64}(#ephemeral)?$`)

// nsqTarget reads an nsq:// target.
func nsqTarget(target string) (addr, topic string, err error) {
	u, err := url.Parse(target)
	topic = ""
	if err == nil {
		topic = strings.Trim(u.Path, "/")
	}
	if err != nil || u.Host == "" || topic == "" || strings.Contains(topic, "/") {
		return "", "", fmt.Errorf("target %q: want nsq://NSQD_HOST:4150/TOPIC (TOPIC may hold {type}: one topic per message type)", target)
	}
	addr = u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "4150")
	}
	return addr, topic, nil
}

// topicFor is the topic of each message type: pattern with {type} replaced.
func topicsFor(pattern string, types []scenario.RequestType) ([]string, error) {
	out := make([]string, len(types))
	for i, t := range types {
		out[i] = strings.ReplaceAll(pattern, "{type}", t.Name)
		if !nsqTopicName.MatchString(out[i]) {
			return nil, fmt.Errorf("topic %q (type %s): NSQ topics are 1-64 of a-z A-Z 0-9 . _ -", out[i], t.Name)
		}
	}
	return out, nil
}

// nsqPool shares a few producers (one connection each; PUBs pipeline on
// it) among the run's senders.
type nsqPool struct {
	producers []*nsq.Producer
	next      atomic.Uint64
	topics    []string
	holders   holders
}

func newNSQSenders(c Config, gen *scenario.Generator) (func() sender, error) {
	addr, pattern, err := nsqTarget(c.Target)
	if err != nil {
		return nil, err
	}
	topics, err := topicsFor(pattern, gen.Types)
	if err != nil {
		return nil, err
	}
	cfg := nsq.NewConfig()
	cfg.DialTimeout = c.Timeout
	cfg.WriteTimeout = c.Timeout
	cfg.ReadTimeout = max(c.Timeout, 2*time.Second)
	p := &nsqPool{topics: topics}
	for range clamp(c.Workers/8, 1, 8) {
		prod, err := nsq.NewProducer(addr, cfg)
		if err != nil {
			return nil, fmt.Errorf("nsq target: %w", err)
		}
		prod.SetLogger(log.New(io.Discard, "", 0), nsq.LogLevelError)
		p.producers = append(p.producers, prod)
	}
	return func() sender {
		p.holders.add()
		return &nsqSender{p: p}
	}, nil
}

type nsqSender struct {
	p      *nsqPool
	closed bool
}

func (s *nsqSender) warm(context.Context, time.Time) {
	_ = s.p.producers[s.p.next.Load()%uint64(len(s.p.producers))].Ping()
}

func (s *nsqSender) close() {
	if s.closed {
		return
	}
	s.closed = true
	if s.p.holders.done() {
		for _, prod := range s.p.producers {
			prod.Stop()
		}
	}
}

func (s *nsqSender) send(ctx context.Context, m *scenario.Message, deadline time.Time) (int, int64, error) {
	topic := s.p.topics[m.Type]
	for attempt := 1; ; attempt++ {
		prod := s.p.producers[s.p.next.Add(1)%uint64(len(s.p.producers))]
		err := prod.Publish(topic, m.Body)
		if err == nil {
			return 200, 0, nil
		}
		if !retryable(err) || !sleepBefore(ctx, deadline, attempt) {
			return 0, 0, nsqError(err)
		}
	}
}

// retryable says whether a PUB may go again: connection trouble, not a
// refusal (E_BAD_TOPIC, E_BAD_MESSAGE...).
func retryable(err error) bool {
	var pe *nsq.ErrProtocol
	return !errors.As(err, &pe) && !strings.Contains(err.Error(), "E_")
}

// sleepBefore waits before another attempt; false when there is no time
// left for one before deadline.
func sleepBefore(ctx context.Context, deadline time.Time, attempt int) bool {
	wait := min(time.Duration(attempt)*50*time.Millisecond, 500*time.Millisecond)
	if time.Now().Add(wait).After(deadline) {
		return false
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// nsqError keeps error texts short and free of addresses that vary, so equal
// failures count together.
func nsqError(err error) error {
	var op *net.OpError
	if errors.As(err, &op) {
		return fmt.Errorf("nsq: %s: %w", op.Op, op.Err)
	}
	return fmt.Errorf("nsq: %w", err)
}
