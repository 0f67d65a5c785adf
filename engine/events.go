package engine

import "time"

// Event types, in the order a step sees them.
const (
	EventStart     = "start"     // a step began applying
	EventProgress  = "progress"  // what the step is doing now
	EventApplied   = "applied"   // a step finished applying
	EventUnchanged = "unchanged" // a step's inputs did not change: skipped
	EventFailed    = "failed"    // a step failed
	EventHandler   = "handler"   // a completion handler finished or was skipped
	EventDestroy   = "destroy"   // a step began tearing down
	EventDestroyed = "destroyed" // a step is gone
	EventInfo      = "info"      // anything else worth a line
)

// Event reports progress to whoever shows it.
type Event struct {
	Time    time.Time     `json:"time"`
	Stack   string        `json:"stack"`
	Step    string        `json:"step,omitempty"`
	Type    string        `json:"type"`
	Message string        `json:"message,omitempty"`
	Elapsed time.Duration `json:"elapsed,omitempty"`
	// Output marks a progress event that is a line of the step's tool's own
	// output (Terraform's, a load window) rather than stack's.
	Output bool `json:"output,omitempty"`
}
