package stack

import (
	"context"
	"encoding/json"
)

// AlwaysRunner is implemented by kinds whose steps may ask to run on every
// `up` even when nothing they depend on changed (a test suite's step).
type AlwaysRunner interface {
	RunsAlways(config json.RawMessage) bool
}

// FailedRun is the error of a step that ran and failed but whose outputs say
// why (a test step's per-test results): the engine records Outputs with the
// failure so `stack status` shows them. Dependents still see the step as not
// applied.
type FailedRun struct {
	Err     error
	Outputs Outputs
}

func (e *FailedRun) Error() string { return e.Err.Error() }
func (e *FailedRun) Unwrap() error { return e.Err }

// Planner is implemented by kinds that can tell whether applying a step now
// would change its infrastructure, without changing anything: no state
// written, no lock taken, nothing stored. run.WorkDir is a working copy of its
// own, apart from the one apply uses, so a command holding the stack's lease
// is not disturbed.
type Planner interface {
	PlanStep(ctx context.Context, run *StepRun) (PlanResult, error)
}

// PlanResult is what a Planner found.
type PlanResult struct {
	// Changes is true when applying would change anything (resources or outputs).
	Changes bool `json:"changes"`
	Add     int  `json:"add"`
	Change  int  `json:"change"`
	Destroy int  `json:"destroy"`
	// Resources lists what would change, as "ACTION ADDRESS".
	Resources []string `json:"resources,omitempty"`
}

// Orphan is a resource that carries a stack's identity (its tags) but that no
// step's state knows: left by a run that was killed between creating it and
// saving the state, or created by hand. Nobody would ever destroy it.
type Orphan struct {
	ID   string `json:"id"`             // an ARN on AWS
	Step string `json:"step,omitempty"` // from its identity, when it says
	// Address is the resource's Terraform address, when a state or an apply
	// named it.
	Address string `json:"address,omitempty"`
	// Kept says which state still holds the resource (a Terraform workspace
	// of its own, which `stack down` destroys); empty when none does and it
	// must be deleted by hand.
	Kept string `json:"kept,omitempty"`
}

// OrphanFinder is implemented by step kinds that can look for resources
// carrying a stack's identity outside Terraform state (on AWS: the Resource
// Groups Tagging API).
type OrphanFinder interface {
	// FindOrphans lists resources tagged with stack's identity whose ids are not
	// in known. modules are the stack's module folders: a kind looks only where
	// they create resources, and not at all if none of them does.
	FindOrphans(ctx context.Context, stack string, modules []string, known map[string]bool) ([]Orphan, error)
	// StateIDs lists the resource ids a step's state holds.
	StateIDs(ctx context.Context, run *StepRun) ([]string, error)
}

// DirValidator is implemented by kinds whose config names files relative to the
// definition (a generator's scenario folder): validation passes the folder.
type DirValidator interface {
	ValidateIn(dir string, config json.RawMessage) error
}

// Preparer is implemented by kinds with set-up work that does not depend on
// upstream outputs (copying a module, terraform init, creating a workspace). The
// engine prepares steps that are going to run while their upstream steps are
// still running, which takes that work off the critical path. run.Vars and
// run.Config are nil during Prepare.
type Preparer interface {
	Prepare(ctx context.Context, run *StepRun) error
}

// LiveChecker is implemented by kinds whose applied steps leave a process
// running that can end without stack's doing (a persistent generator run,
// killed or its workstation restarted). For a step that is otherwise
// unchanged, `up` asks whether it still runs and applies the step again when
// it provably does not. NotRunning says why ("" while it runs, or when it
// cannot tell: a process on another workstation); it must be cheap (a read
// of the store) and change nothing. run.Config is the step's config as
// written (references unresolved); run.Vars is nil.
type LiveChecker interface {
	NotRunning(ctx context.Context, run *StepRun) (string, error)
}

// OutputReader is implemented by kinds that can read a finished step's outputs
// again; the engine uses it when a dependent needs a sensitive value that was not
// stored.
type OutputReader interface {
	ReadOutputs(ctx context.Context, run *StepRun) (Outputs, error)
}

// HandlerOutputs is implemented by handlers whose outputs are known before they
// run, so validation can check references to them.
type HandlerOutputs interface {
	OutputNames(config json.RawMessage) []string
}

// HandlerVariables is implemented by handlers that read stack variables their
// config does not reference (the aurora handler's default snapshot map), so
// that changing such a variable changes the step's fingerprint and re-runs it.
type HandlerVariables interface {
	Variables(config json.RawMessage) []string
}

// ModuleInspector is implemented by step kinds that can read a module's declared
// variables and outputs offline, so validation can check references to them.
type ModuleInspector interface {
	InspectModule(dir string) (ModuleInfo, error)
}

// ModuleInfo is what a module declares.
type ModuleInfo struct {
	Variables map[string]bool // name -> required
	Outputs   map[string]bool // name -> sensitive
	// VarTypes holds each variable's declared type constraint in Terraform's
	// type language ("list(string)"; "" or absent: any value).
	VarTypes map[string]string
	// OutputTypes holds the type of the outputs whose type is known offline
	// (the same language); the others are absent.
	OutputTypes map[string]string
	// SensitiveVars names the variables the module declares sensitive (nil:
	// the kind cannot tell).
	SensitiveVars map[string]bool
	// Resources are the addresses of what the module manages
	// ("terraform_data.vpc"), for `stack plan` of a stack not yet up.
	Resources []string
}

// ModuleFilter is implemented by step kinds whose tool writes working files
// into a module folder (Terraform's .terraform folder and local state): the
// engine leaves them out of the module's fingerprint and stored copy.
type ModuleFilter interface {
	// SkipModuleFile reports whether name, a file or (isDir) a folder inside a
	// module folder, is the tool's rather than the module's.
	SkipModuleFile(name string, isDir bool) bool
}

// LocalModuleCaller is implemented by step kinds whose modules may call
// local modules by relative path: the engine then counts those outside the
// module's folder as part of it (see ModuleLayout).
type LocalModuleCaller interface {
	// LocalModuleCalls returns the local modules the module in dir calls
	// directly, as relative slash paths ("./sub", "../internal/asg").
	LocalModuleCalls(dir string) ([]string, error)
}

// Where says for people where an orphan is kept and what becomes of it.
func (o Orphan) Where() string {
	if o.Kept != "" {
		return "kept in " + o.Kept + "; `stack down` destroys it"
	}
	return "in no state: Terraform was stopped before it saved it; delete it by hand"
}

// Recoverer is implemented by kinds whose interrupted runs can leave, in a
// step's working copy, what they could not save (Terraform: errored.tfstate,
// an apply's journal). Apply and Destroy settle it first; for a step it skips
// as unchanged the engine calls Recover, so the next command on the
// workstation finds it even then. Pending is a cheap look at the working copy.
type Recoverer interface {
	Pending(workDir string) bool
	Recover(ctx context.Context, run *StepRun) error
}
