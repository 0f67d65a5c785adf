package main

import (
	"strings"
	"testing"
)

// stacks/sms-inbound.bfcm.json validates offline, and --explain says which
// file set each value.
func TestValidateExplainBFCM(t *testing.T) {
	w := newWorkstation(t, t.TempDir())
	r := w.must("validate", "--explain", "stacks/sms-inbound.bfcm.json", "--profile", "production")
	for _, want := range []string{
		`name = "sms-inbound-bfcm"  # stacks/sms-inbound.bfcm.json`,
		`steps[0].module = "../modules/aws/network"  # stacks/sms-inbound.json`,
		`variables.aurora_snapshots.seeded = "sms-inbound-bfcm-2026-11-28"  # stacks/sms-inbound.bfcm.json`,
		`stack "sms-inbound-bfcm" is valid (9 steps, profile production)`,
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
}
