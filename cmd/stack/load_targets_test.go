package main

import (
	"strings"
	"testing"
)

// A wrong broker flag is a usage error (exit 2) that names the flag.
func TestLoadKafkaFlagErrors(t *testing.T) {
	w := newWorkstation(t, t.TempDir())
	for flag, want := range map[string]string{
		"--kafka-acks=some":       `--kafka-acks "some": use all`,
		"--kafka-compression=rar": `--kafka-compression "rar"`,
		"--kafka-key={{.Sender":   `--kafka-key`,
		"--kafka-batch-bytes=-1":  `--kafka-batch-bytes must be positive`,
	} {
		r := w.run("load", "--scenario", "sms-inbound", "--target", "kafka://127.0.0.1:1/t", "--rate", "1", "--requests", "1", flag)
		if r.code != 2 || !strings.Contains(r.stderr, want) {
			t.Errorf("%s: exit %d, stderr %q; want 2 and %q", flag, r.code, r.stderr, want)
		}
	}
}
