package main

import (
	"regexp"
	"strings"

	"github.com/spf13/pflag"

	"github.com/stack-tools/stack/load"
)

// addKafkaFlags adds the flags of kafka:// targets; they fill o.Run.Kafka.
func addKafkaFlags(f *pflag.FlagSet, o *loadOptions) {
	k := &o.Kafka
	f.StringToStringVar(&k.Topics, "kafka-topic", nil, "kafka:// targets: a message type's topic, TYPE=TOPIC (repeatable; default the target's topic, where {type} is the type)")
	f.StringVar(&k.Key, "kafka-key", "", "kafka:// targets: template of each record's key, such as '{{.Sender.Phone}}' (default none: spread over partitions)")
	f.StringVar(&k.Acks, "kafka-acks", "all", "kafka:// targets: all (idempotent: no duplicates on retry), leader or none")
	f.DurationVar(dur(&k.Linger), "kafka-linger", 0, "kafka:// targets: how long a batch waits to fill")
	f.Int32Var(&k.BatchBytes, "kafka-batch-bytes", 0, "kafka:// targets: largest batch in bytes (default 1MB)")
	f.StringVar(&k.Compression, "kafka-compression", "none", "kafka:// targets: none, gzip, snappy, lz4 or zstd")
}

var kafkaField = regexp.MustCompile(`kafka "([a-z_]+)"`)

// kafkaOptions gives the run the Kafka flags when the target is Kafka's, and
// names the flag that is wrong.
func (o *loadOptions) kafkaOptions() error {
	if !load.IsKafka(o.Run.Target) {
		return nil
	}
	if err := o.Kafka.Check(); err != nil {
		// `kafka "batch_bytes" ...` -> `--kafka-batch-bytes ...`
		msg := kafkaField.ReplaceAllStringFunc(err.Error(), func(m string) string {
			return "--kafka-" + strings.ReplaceAll(kafkaField.FindStringSubmatch(m)[1], "_", "-")
		})
		return loadUsage("%s", msg)
	}
	k := o.Kafka
	o.Run.Kafka = &k
	return nil
}
