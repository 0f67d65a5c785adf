package state

// Phase is one stretch of a step's run (prepare, init, workspace, apply,
// outputs, handlers, record), so users can see where a step's time went.
type Phase struct {
	Name string `json:"name"`
	// Start is when the phase began, in seconds after the step started. For
	// phases done ahead of time (while upstream steps ran) it is negative.
	Start   float64 `json:"start"`
	Seconds float64 `json:"seconds"`
}
