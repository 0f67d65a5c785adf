// Package tfbackend describes where Terraform keeps a step's state. State
// stores (stores/localstore, stores/s3store) return a Backend and the terraform
// step kind uses it. It is a package of its own so that a store need not
// import the step kind and everything that runs Terraform.
package tfbackend

import "context"

// Backend is a Terraform backend configuration for one step's state.
type Backend struct {
	Type   string         `json:"type"`
	Config map[string]any `json:"config"`
	// Env is added to Terraform's environment (endpoints for S3-compatible stores).
	Env map[string]string `json:"-"`
	// State, if set, reads the Terraform state of one workspace straight from
	// where the backend keeps it (stack.ErrNotFound if there is none), which is
	// much cheaper than a Terraform run. Read only: Terraform alone writes state.
	State func(ctx context.Context, workspace string) ([]byte, error) `json:"-"`
	// DropNewWorkspaceLock, if set, removes the lock of a workspace whose state
	// does not exist yet. Creating a workspace locks its future state; a
	// command killed then leaves a lock `terraform force-unlock` cannot reach,
	// since no workspace exists to select. The caller holds the stack's lease.
	DropNewWorkspaceLock func(ctx context.Context, workspace string) error `json:"-"`
	// NewWorkspace, if set, creates a workspace as `terraform workspace new`
	// does for this backend, without running Terraform. emptyState is the
	// state Terraform writes for a new workspace, for backends that store one.
	// The caller holds the stack's lease.
	NewWorkspace func(ctx context.Context, workspace string, emptyState []byte) (NewWorkspace, error) `json:"-"`
	// NoTLSCABundleAttr, if set, says the backend opens no TLS connection (an
	// S3-compatible server over plain HTTP, keys from the environment) and
	// names the configuration attribute that takes its CA bundle. Terraform
	// would otherwise load the machine's bundle (AWS_CA_BUNDLE) in every run,
	// for nothing; the terraform kind gives it one that trusts nothing.
	NoTLSCABundleAttr string `json:"-"`
}

// NewWorkspace is what Backend.NewWorkspace did.
type NewWorkspace struct {
	// Created is false when the workspace existed already (it is left as it is).
	Created bool
	// State is what the new workspace's state holds now: emptyState, or nil
	// where the backend keeps none until the first apply.
	State []byte
	// Locked says a lock on the new workspace's state is there already: a
	// run killed while Terraform created the workspace left it. Terraform
	// must then take its own lock, and meet that one.
	Locked bool
}
