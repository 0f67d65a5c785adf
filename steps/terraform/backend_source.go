package terraform

import (
	"fmt"

	"github.com/stack-tools/stack/stack"
	"github.com/stack-tools/stack/steps/terraform/tfbackend"
)

// BackendSource is implemented by state stores that can also keep Terraform
// state (stores/localstore, stores/s3store). The engine hands each step its
// stack's store and knows nothing of Terraform; the kind asks the store here.
type BackendSource interface {
	// TerraformBackend returns the backend for one step's state. The kind
	// chooses the workspace name.
	TerraformBackend(stack, step string) tfbackend.Backend
}

// backendOf returns where Terraform keeps run's state.
func backendOf(run *stack.StepRun) (tfbackend.Backend, error) {
	src, ok := run.Store.(BackendSource)
	if !ok {
		return tfbackend.Backend{}, fmt.Errorf("the state store (%T) cannot keep Terraform state: use a state directory or an s3:// store", run.Store)
	}
	return src.TerraformBackend(run.Stack, run.Step), nil
}
