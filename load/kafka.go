package load

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/template"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stack-tools/stack/load/pace"
	"github.com/stack-tools/stack/load/scenario"
)

// Kafka targets: kafka://BROKER1:9092,BROKER2:9092/TOPIC, produced with
// franz-go. "{type}" in TOPIC, or KafkaOptions.Topics, gives each message
// type a topic of its own; every record also carries the headers stack-type
// (its type) and stack-id (its message id).
//
// Delivery: with acks "all" (the default) franz-go's producer is idempotent:
// a batch it retries (a broker error it may retry, a dropped connection)
// carries the same producer id and sequence numbers, and the partition's
// leader drops one it already wrote, so the run writes each message once.
// With acks "leader" idempotence is off (at least once: a retry after a
// lost ack writes twice); with "none" nothing is acknowledged (at most once).

// KafkaOptions shape how a kafka:// target is produced to.
type KafkaOptions struct {
	// Topics maps a message type to its topic, overriding the target's.
	Topics map[string]string `json:"topics,omitempty"`
	// Key is a template of each record's key, seeing what a body template
	// sees: "{{.Sender.Phone}}" keeps one sender's messages in order on one
	// partition. No key: records spread over partitions.
	Key string `json:"key,omitempty"`
	// Acks is "all" (default), "leader" or "none".
	Acks string `json:"acks,omitempty"`
	// Linger is how long a partition's batch waits to fill (default 0: sent
	// as soon as the previous one is acknowledged).
	Linger pace.Duration `json:"linger,omitempty"`
	// BatchBytes caps a batch (default 1MB, Kafka's usual message.max.bytes).
	BatchBytes int32 `json:"batch_bytes,omitempty"`
	// Compression is none (default), gzip, snappy, lz4 or zstd.
	Compression string `json:"compression,omitempty"`
}

// Check names the first wrong field.
func (o *KafkaOptions) Check() error {
	if o == nil {
		return nil
	}
	switch o.Acks {
	case "", "all", "leader", "none":
	default:
		return fmt.Errorf("kafka \"acks\" %q: use all (default), leader or none", o.Acks)
	}
	if _, err := compression(o.Compression); err != nil {
		return err
	}
	if o.Linger < 0 {
		return errors.New("kafka \"linger\" must be positive")
	}
	if o.BatchBytes < 0 {
		return errors.New("kafka \"batch_bytes\" must be positive (bytes)")
	}
	if o.Key != "" {
		if _, err := template.New("key").Option("missingkey=error").Parse(o.Key); err != nil {
			return fmt.Errorf("kafka \"key\": %w", err)
		}
	}
	return nil
}

// IsKafka says whether a target is a Kafka topic (kafka://BROKERS/TOPIC).
func IsKafka(target string) bool { return strings.HasPrefix(target, "kafka://") }

// kafkaTarget reads a kafka:// target.
func kafkaTarget(target string) (brokers []string, topic string, err error) {
	rest := strings.TrimPrefix(target, "kafka://")
	hosts, topic, _ := strings.Cut(rest, "/")
	for _, h := range strings.Split(hosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			if !strings.Contains(h, ":") {
				h += ":9092"
			}
			brokers = append(brokers, h)
		}
	}
	if len(brokers) == 0 || strings.Contains(topic, "/") {
		return nil, "", fmt.Errorf("target %q: want kafka://BROKER:9092[,BROKER:9092...]/TOPIC (TOPIC may hold {type}, or give a topic per type)", target)
	}
	return brokers, topic, nil
}

// kafkaGeneratorTarget is what the scenario generator sees: the first broker.
func kafkaGeneratorTarget(target string) string {
	brokers, topic, err := kafkaTarget(target)
	if err != nil {
		return target
	}
	return "kafka://" + brokers[0] + "/" + topic
}

func compression(name string) (kgo.CompressionCodec, error) {
	switch name {
	case "", "none":
		return kgo.NoCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "zstd":
		return kgo.ZstdCompression(), nil
	}
	return kgo.NoCompression(), fmt.Errorf("kafka \"compression\" %q: use none, gzip, snappy, lz4 or zstd", name)
}

// kafkaProducer is the one client every sender of a run produces through:
// franz-go batches what they produce per partition.
type kafkaProducer struct {
	client  *kgo.Client
	topics  []string
	types   []string
	key     *template.Template
	gen     *scenario.Generator
	vars    map[string]string
	holders holders
}

func newKafkaSenders(c Config, gen *scenario.Generator) (func() sender, error) {
	o := c.Kafka
	if o == nil {
		o = &KafkaOptions{}
	}
	if err := o.Check(); err != nil {
		return nil, err
	}
	brokers, pattern, err := kafkaTarget(c.Target)
	if err != nil {
		return nil, err
	}
	p := &kafkaProducer{gen: gen, vars: c.Options.Vars}
	for _, t := range gen.Types {
		topic := strings.ReplaceAll(pattern, "{type}", t.Name)
		if o.Topics[t.Name] != "" {
			topic = o.Topics[t.Name]
		}
		if topic == "" {
			return nil, fmt.Errorf("kafka target: no topic for type %s: give one in the target (kafka://BROKER/TOPIC) or in \"topics\"", t.Name)
		}
		p.topics, p.types = append(p.topics, topic), append(p.types, t.Name)
	}
	if o.Key != "" {
		p.key = template.Must(template.New("key").Option("missingkey=error").Parse(o.Key))
	}
	opts, err := kafkaOpts(brokers, o, c.Timeout)
	if err != nil {
		return nil, err
	}
	if p.client, err = kgo.NewClient(opts...); err != nil {
		return nil, fmt.Errorf("kafka target: %w", err)
	}
	return func() sender {
		p.holders.add()
		return &kafkaSender{p: p}
	}, nil
}

func kafkaOpts(brokers []string, o *KafkaOptions, timeout time.Duration) ([]kgo.Opt, error) {
	codec, err := compression(o.Compression)
	if err != nil {
		return nil, err
	}
	opts := []kgo.Opt{kgo.SeedBrokers(brokers...), kgo.DialTimeout(timeout),
		kgo.RecordDeliveryTimeout(timeout), kgo.ProducerLinger(time.Duration(o.Linger)),
		kgo.ProducerBatchCompression(codec)}
	switch o.Acks {
	case "leader":
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	case "none":
		opts = append(opts, kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite())
	default:
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	}
	if o.BatchBytes > 0 {
		opts = append(opts, kgo.ProducerBatchMaxBytes(o.BatchBytes))
	}
	return opts, nil
}

type kafkaSender struct {
	p      *kafkaProducer
	closed bool
	data   scenario.Data
	key    strings.Builder
}

func (s *kafkaSender) warm(ctx context.Context, deadline time.Time) {
	wctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	_ = s.p.client.Ping(wctx)
}

func (s *kafkaSender) close() {
	if s.closed {
		return
	}
	s.closed = true
	if s.p.holders.done() {
		s.p.client.Close()
	}
}

func (s *kafkaSender) send(ctx context.Context, m *scenario.Message, deadline time.Time) (int, int64, error) {
	rec := &kgo.Record{Topic: s.p.topics[m.Type], Value: m.Body, Headers: []kgo.RecordHeader{
		{Key: TypeAttribute, Value: []byte(s.p.types[m.Type])}, {Key: "stack-id", Value: []byte(m.ID)}}}
	if s.p.key != nil {
		key, err := s.renderKey(m)
		if err != nil {
			return 0, 0, err
		}
		rec.Key = key
	}
	pctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	if err := s.p.client.ProduceSync(pctx, rec).FirstErr(); err != nil {
		return 0, 0, kafkaError(err)
	}
	return 200, 0, nil
}

func (s *kafkaSender) renderKey(m *scenario.Message) ([]byte, error) {
	g := s.p.gen
	s.data = scenario.Data{Type: s.p.types[m.Type], Seq: m.Seq, MessageID: m.ID, Vars: s.p.vars}
	if m.Sender < len(g.Senders) {
		s.data.Sender = &g.Senders[m.Sender]
	}
	if m.Company < len(g.Company) {
		s.data.Company = &g.Company[m.Company]
	}
	s.key.Reset()
	if err := s.p.key.Execute(&s.key, &s.data); err != nil {
		return nil, fmt.Errorf("kafka key: %w", err)
	}
	return []byte(s.key.String()), nil
}

// kafkaError names a broker's refusal by its Kafka error code, so the report
// counts failures per code.
func kafkaError(err error) error {
	var ke *kerr.Error
	switch {
	case errors.As(err, &ke):
		return fmt.Errorf("kafka: %s (error code %d)", ke.Message, ke.Code)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, kgo.ErrRecordTimeout):
		return errors.New("kafka: no acknowledgement before the timeout")
	}
	return fmt.Errorf("kafka: %w", err)
}
