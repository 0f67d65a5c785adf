package load_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stack-tools/stack/load"
	"github.com/stack-tools/stack/load/pace"
	"github.com/stack-tools/stack/load/scenario"
)

// startKafka starts kfake, franz-go's in-process implementation of the Kafka
// protocol (no Kafka broker is packaged for this machine), with three
// brokers and the topics seeded.
func startKafka(t *testing.T, topics ...string) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.SeedTopics(3, topics...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// consumeKafka reads want records from topics (from the start) and counts
// them by their stack-type header and stack-id header; keys are kept by id.
func consumeKafka(t *testing.T, brokers []string, want int, topics ...string) (byType map[string]map[string]int, keys map[string]string, total int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	byType, keys = map[string]map[string]int{}, map[string]string{}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // bounds a broken run only
	defer cancel()
	for total < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d records", total, want)
		}
		fs.EachRecord(func(r *kgo.Record) {
			h := map[string]string{}
			for _, kv := range r.Headers {
				h[kv.Key] = string(kv.Value)
			}
			if byType[h[load.TypeAttribute]] == nil {
				byType[h[load.TypeAttribute]] = map[string]int{}
			}
			byType[h[load.TypeAttribute]][h["stack-id"]]++
			keys[h["stack-id"]] = string(r.Key)
			total++
		})
	}
	// Anything more (a duplicate) arrives with the next fetch.
	more, cancelMore := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancelMore()
	cl.PollFetches(more).EachRecord(func(*kgo.Record) { total++ })
	return byType, keys, total
}

// A Kafka target gets every message, one topic per type, keyed by sender;
// one produce request is cut off (the broker closes the connection before
// writing), franz-go sends it again, and its idempotent producer writes each
// message exactly once.
func TestKafkaTargetDeliversEveryMessageThroughABrokerFailure(t *testing.T) {
	cluster := startKafka(t, "kt-sms", "kt-mms")
	var produces, cut atomic.Int32
	cluster.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		if produces.Add(1) == 3 {
			cut.Add(1)
			return nil, errCut, true // the connection is closed, nothing written
		}
		return nil, nil, false
	})
	const n = 300
	sc := loadScenario(t, brokerScenario)
	rep, err := load.Run(context.Background(), load.Config{Scenario: sc,
		Target: "kafka://" + strings.Join(cluster.ListenAddrs(), ",") + "/kt-{type}",
		Rate:   pace.Spec{Rate: 200}, Requests: n, Options: scenario.Options{Seed: 7}, Timeout: time.Minute,
		Kafka: &load.KafkaOptions{Key: "{{.Sender.Phone}}", Linger: pace.Duration(2 * time.Millisecond)}})
	if err != nil {
		t.Fatal(err)
	}
	if cut.Load() != 1 {
		t.Fatalf("the failure was not forced (%d produce requests)", produces.Load())
	}
	if rep.Total.Sent != n || rep.Total.Success != n || rep.Total.Errors != 0 {
		t.Fatalf("sent %d, success %d, errors %d %v", rep.Total.Sent, rep.Total.Success, rep.Total.Errors, rep.Total.ErrorTexts)
	}
	if rep.Total.Latency.P50 <= 0 {
		t.Errorf("no latency: %+v", rep.Total.Latency)
	}
	byType, keys, total := consumeKafka(t, cluster.ListenAddrs(), n, "kt-sms", "kt-mms")
	if total != n {
		t.Errorf("consumed %d records, want exactly %d (idempotent producer: no duplicates)", total, n)
	}
	for _, ty := range rep.Types {
		if uint64(len(byType[ty.Name])) != ty.Success {
			t.Errorf("type %s: %d distinct consumed, %d sent", ty.Name, len(byType[ty.Name]), ty.Success)
		}
	}
	for id, k := range keys {
		if !strings.HasPrefix(k, "+") {
			t.Errorf("record %s has key %q, want the sender's phone", id, k)
			break
		}
	}
}

var errCut = errCutT{}

type errCutT struct{}

func (errCutT) Error() string { return "cut by the test" }

// A broker that refuses every produce request with a Kafka error code gets
// each message reported failed under that code.
func TestKafkaTargetErrorsByCode(t *testing.T) {
	cluster := startKafka(t, "kt2")
	cluster.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		pr := req.(*kmsg.ProduceRequest)
		resp := pr.ResponseKind().(*kmsg.ProduceResponse)
		for _, tp := range pr.Topics {
			rt := kmsg.NewProduceResponseTopic()
			rt.Topic, rt.TopicID = tp.Topic, tp.TopicID
			for _, p := range tp.Partitions {
				rp := kmsg.NewProduceResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p.Partition, 10 // MESSAGE_TOO_LARGE, not retriable
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp, nil, true
	})
	sc := loadScenario(t, brokerScenario)
	rep, err := load.Run(context.Background(), load.Config{Scenario: sc, Target: "kafka://" + cluster.ListenAddrs()[0] + "/kt2",
		Rate: pace.Spec{Rate: 100}, Requests: 20, Timeout: time.Minute, Kafka: &load.KafkaOptions{Acks: "leader"}})
	if err != nil {
		t.Fatal(err)
	}
	const want = "kafka: MESSAGE_TOO_LARGE (error code 10)"
	if rep.Total.Errors != 20 || rep.Total.ErrorTexts[want] != 20 {
		t.Errorf("errors %d %v, want 20 of %q", rep.Total.Errors, rep.Total.ErrorTexts, want)
	}
}

func TestKafkaTargetBadOptions(t *testing.T) {
	sc := loadScenario(t, brokerScenario)
	for _, c := range []struct {
		target string
		o      *load.KafkaOptions
		want   string
	}{
		{"kafka:///t", nil, "kafka://BROKER:9092/TOPIC"},
		{"kafka://127.0.0.1:1/", nil, "no topic for type"},
		{"kafka://127.0.0.1:1/t", &load.KafkaOptions{Acks: "some"}, `"acks" "some"`},
		{"kafka://127.0.0.1:1/t", &load.KafkaOptions{Compression: "rar"}, `"compression" "rar"`},
		{"kafka://127.0.0.1:1/t", &load.KafkaOptions{Key: "{{.Sender"}, `"key"`},
	} {
		_, err := load.Run(context.Background(), load.Config{Scenario: sc, Target: c.target, Rate: pace.Spec{Rate: 10}, Requests: 1, Kafka: c.o})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %+v: err = %v, want %q", c.target, c.o, err, c.want)
		}
	}
}
