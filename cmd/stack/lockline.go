package main

import (
	"fmt"

	"github.com/stack-tools/stack/state"
)

// lockState says whether a stack's lease is held by a live holder ("held"),
// was left by a process on this host that died ("holder-died"), or was not
// renewed in time ("expired"); "" when there is none.
func lockState(l *state.Lease) string {
	switch {
	case l == nil:
		return ""
	case l.HolderDied():
		return "holder-died"
	case l.Expired():
		return "expired"
	}
	return "held"
}

// lockLine describes a stack's lease for `status`: a dead holder is not shown
// as if it were still running.
func lockLine(l *state.Lease) string {
	switch lockState(l) {
	case "holder-died":
		return fmt.Sprintf("  lock left by %s running %q (started %s ago): holder died; the next command takes over", l.Holder(), l.Command, ago(l.Started))
	case "expired":
		return fmt.Sprintf("  lock of %s running %q expired %s ago (its holder stopped renewing it): the next command takes over", l.Holder(), l.Command, ago(l.Expires))
	case "held":
		return fmt.Sprintf("  locked by %s running %q since %s ago", l.Holder(), l.Command, ago(l.Started))
	}
	return ""
}
