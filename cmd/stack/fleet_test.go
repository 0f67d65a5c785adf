package main

import (
	"strings"
	"testing"
)

// Fleet mistakes are usage errors (exit 2) that say what to give.
func TestFleetUsageErrors(t *testing.T) {
	w := newWorkstation(t, t.TempDir())
	for _, c := range []struct {
		env  []string
		args []string
		want string
	}{
		{nil, []string{"load-worker", "--zookeeper", "127.0.0.1:1"}, "--group is required"},
		{[]string{"STACK_ZOOKEEPER="}, []string{"load-worker", "--group", "g"}, "--zookeeper is required"},
		{nil, []string{"load", "--scenario", "sms-inbound", "--target", "http://127.0.0.1:1", "--rate", "1", "--duration", "1s", "--workers-count", "2"}, "--workers-count needs --workers-group"},
		{[]string{"STACK_ZOOKEEPER="}, []string{"load", "--scenario", "sms-inbound", "--target", "http://127.0.0.1:1", "--rate", "1", "--duration", "1s", "--workers-count", "2", "--workers-group", "g"}, "needs --zookeeper"},
		{nil, []string{"load", "--scenario", "sms-inbound", "--target", "sqs://sqs.us-east-1.amazonaws.com/1/q", "--rate", "1", "--requests", "1", "--batch", "11"}, "1 to 10"},
	} {
		r := w.runEnv(c.env, c.args...)
		if r.code != 2 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("stack %s: exit %d, stderr %q; want 2 and %q", strings.Join(c.args, " "), r.code, r.stderr, c.want)
		}
	}
}
