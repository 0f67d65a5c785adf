package stack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
)

// Output is one value a step produces. Sensitive values live in memory only:
// they are never written to the store, a log or the terminal.
type Output struct {
	Value     any  `json:"value,omitempty"`
	Sensitive bool `json:"sensitive,omitempty"`
	// Digest identifies a sensitive value without revealing it, so a change to
	// it still changes its dependents' fingerprints.
	Digest string `json:"digest,omitempty"`
}

// Outputs maps an output name to its value.
type Outputs map[string]Output

// Redacted returns a copy safe to store or print: sensitive values are dropped
// and only a digest keyed with the store's secret (LoadDigestKey) is kept.
func (o Outputs) Redacted(key []byte) Outputs {
	r := make(Outputs, len(o))
	for k, v := range o {
		if v.Sensitive {
			d := v.Digest
			if v.Value != nil {
				d = outputDigest(key, k, v.Value)
			}
			r[k] = Output{Sensitive: true, Digest: d}
			continue
		}
		r[k] = v
	}
	return r
}

// StepRun is everything a step kind needs to apply or destroy one step.
type StepRun struct {
	Stack   string
	Step    string
	Profile string
	Owner   string
	// Dir is the folder of the definition file; relative paths in Config (a
	// generator's scenario, say) are relative to it.
	Dir string
	// Module is the absolute path of the step's module folder ("" for kinds without one).
	Module string
	// Vars are the step's resolved variables, sensitive values included.
	Vars map[string]any
	// SensitiveVars names the vars whose value came from a sensitive output.
	SensitiveVars map[string]bool
	// Config is the resolved kind-specific part of the step definition (fields other
	// than name, kind, module, vars, after, profiles, on_complete), as a JSON object.
	Config json.RawMessage
	// WorkDir is a private scratch folder for this step on this machine. It holds
	// nothing another workstation needs.
	WorkDir string
	// Store is the stack's store. A kind whose tool keeps state of its own
	// there (Terraform) asks for it through an interface the kind defines and
	// the store implements; the stack's records are the engine's alone.
	Store Store
	// Log receives the step's detailed output; it is stored with the stack.
	Log io.Writer
	// Progress reports a short human line about what the step is doing now.
	Progress func(format string, args ...any)
	// Output reports a line of the tool's own output (Terraform's progress,
	// a load window) as Progress does, marked so that plain output can leave
	// it out. nil: Progress. Kinds call ToolOutput.
	Output func(format string, args ...any)
	// Artifacts stores files (reports) with the stack and returns where they are.
	Artifacts Artifacts
	// Interrupted says the step's last run stopped before it finished: a kind
	// should check what that run left (Terraform plans the saved state) and
	// report it before applying.
	Interrupted bool
	// SetProcess records the process group the kind runs for the step (nil when
	// it ended), so a command taking over after this one died can wait for it.
	// It may be nil.
	SetProcess func(*Process)
	// Fence, if set, is the path of a FenceFile: past its deadlines the
	// command has lost its lease and another workstation may take the stack
	// over, so whatever the kind runs for the step must be interrupted, then
	// killed. A kind whose processes can outlive or outrun the stack process
	// (the Terraform shim) watches it itself.
	Fence string
	// Orphans, if set, receives resources the kind found that no state of
	// the step knows (an interrupted run created them and could not save
	// them); the engine keeps them in the step's record, so status, plan and
	// down report them. It may be nil.
	Orphans func([]Orphan)

	// OnPhase receives the phases a kind marks with Phase; the engine sets it
	// to time the step (stack status NAME STEP). It may be nil.
	OnPhase func(name string)
}

// Artifacts stores named files with a stack.
type Artifacts interface {
	PutArtifact(ctx context.Context, name string, data []byte) (location string, err error)
}

// StepKind applies and destroys one kind of step. Implementations must be idempotent.
type StepKind interface {
	// Validate checks the kind-specific config before anything runs. The config's
	// references are not resolved yet.
	Validate(config json.RawMessage) error
	// NeedsModule says whether steps of this kind must name a module folder.
	NeedsModule() bool
	Apply(ctx context.Context, run *StepRun) (Outputs, error)
	Destroy(ctx context.Context, run *StepRun) error
}

// HandlerRun is everything a completion handler needs for one step.
type HandlerRun struct {
	Stack   string
	Step    string
	Profile string
	Owner   string
	// Index is the handler's position in the step's on_complete list.
	Index int
	// Replace asks the handler to replace what it made earlier instead of adopting
	// it (rerun-step --replace).
	Replace bool
	// Config is the handler's definition with references unresolved; use Resolve
	// or Decode so each value's sensitivity is known.
	Config json.RawMessage
	// Outputs are the step's outputs so far (module and earlier handlers).
	Outputs Outputs
	// Previous is the record this handler stored on its last successful run, or nil.
	Previous json.RawMessage
	Log      io.Writer
	Progress func(format string, args ...any)
	// Update stores an intermediate record while the handler works (for example a
	// restore that was started), so an interrupted run can resume.
	Update func(record json.RawMessage) error

	// Resolver expands the references in Config; the engine sets it.
	Resolver *Resolver
}

// Resolve expands the references in one value taken from Config. sensitive is
// true when any referenced value is sensitive.
func (h *HandlerRun) Resolve(v any) (resolved any, sensitive bool, err error) {
	return h.Resolver.Resolve(v, "")
}

// Decode resolves every reference in Config and decodes it into v, rejecting
// unknown fields. Use it for handlers whose values are never sensitive.
func (h *HandlerRun) Decode(v any) error {
	var raw any
	if err := json.Unmarshal(h.Config, &raw); err != nil {
		return err
	}
	res, _, err := h.Resolver.Resolve(raw, "")
	if err != nil {
		return err
	}
	return decodeStrict(res, v)
}

// HandlerResult is what a handler leaves behind.
type HandlerResult struct {
	// Record is stored with the step and passed back as Previous and to Teardown.
	// It must not contain sensitive values.
	Record json.RawMessage
	// Outputs are added to the step's outputs, visible to dependents.
	Outputs Outputs
}

// SkipError is returned by a handler that cannot run here and is not needed for
// the step to be usable (for example no ZooKeeper configured). Reason says why
// and how to enable it.
type SkipError struct{ Reason string }

func (e *SkipError) Error() string { return "skipped: " + e.Reason }

// IsSkip reports whether err says the handler was skipped.
func IsSkip(err error) (*SkipError, bool) {
	var s *SkipError
	ok := errors.As(err, &s)
	return s, ok
}

// Handler is a completion handler: it acts on a step's outputs after apply, and
// undoes that on down.
type Handler interface {
	// Validate checks the handler's config before anything runs (references unresolved).
	Validate(config json.RawMessage) error
	Run(ctx context.Context, run *HandlerRun) (HandlerResult, error)
	// Teardown undoes what Run did, given the record it returned. Things already
	// gone are not an error.
	Teardown(ctx context.Context, run *HandlerRun, record json.RawMessage) error
}

// Registry holds the step kinds and handlers a command can use, by name.
type Registry struct {
	steps    map[string]StepKind
	handlers map[string]Handler
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{steps: map[string]StepKind{}, handlers: map[string]Handler{}}
}

// RegisterStep makes a step kind available under name.
func (r *Registry) RegisterStep(name string, k StepKind) { r.steps[name] = k }

// RegisterHandler makes a handler available under name.
func (r *Registry) RegisterHandler(name string, h Handler) { r.handlers[name] = h }

// Step returns the step kind registered under name.
func (r *Registry) Step(name string) (StepKind, bool) { k, ok := r.steps[name]; return k, ok }

// Handler returns the handler registered under name.
func (r *Registry) Handler(name string) (Handler, bool) { h, ok := r.handlers[name]; return h, ok }

// StepNames lists the registered step kinds, for messages.
func (r *Registry) StepNames() []string { return slices.Sorted(maps.Keys(r.steps)) }

// HandlerNames lists the registered handlers, for messages.
func (r *Registry) HandlerNames() []string { return slices.Sorted(maps.Keys(r.handlers)) }

func decodeStrict(v any, into any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return DecodeStrict(b, into)
}

// DecodeStrict decodes a JSON object into v and names the first unknown field.
func DecodeStrict(b []byte, v any) error {
	if len(b) == 0 {
		b = []byte("{}")
	}
	dec := json.NewDecoder(bytesReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w", err)
	}
	return nil
}

// NewHandlerRun builds a HandlerRun outside the engine, for tests of handlers:
// references in config resolve against vars, the stack name and outputs.
func NewHandlerRun(stackName, step string, config json.RawMessage, outputs Outputs, vars map[string]any) *HandlerRun {
	return &HandlerRun{
		Stack: stackName, Step: step, Config: config, Outputs: outputs,
		Log: io.Discard, Progress: func(string, ...any) {}, Update: func(json.RawMessage) error { return nil },
		Resolver: &Resolver{
			Vars:    vars,
			Stack:   map[string]string{"name": stackName},
			Outputs: func(s string) (Outputs, error) { return nil, fmt.Errorf("no step %q in this test run", s) },
			Own:     outputs,
		},
	}
}

// ToolOutput reports a line of the step's tool's own output: through Output,
// or Progress when the engine gives no Output.
func (r *StepRun) ToolOutput(format string, args ...any) {
	switch {
	case r.Output != nil:
		r.Output(format, args...)
	case r.Progress != nil:
		r.Progress(format, args...)
	}
}

// Phase marks the start of a phase of the run; it ends the phase before it.
// Kinds call it as they go (run.Phase("init") ... run.Phase("apply")), so
// phases never overlap. An empty name only ends the current phase.
func (r *StepRun) Phase(name string) {
	if r != nil && r.OnPhase != nil {
		r.OnPhase(name)
	}
}
