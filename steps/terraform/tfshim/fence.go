package tfshim

import (
	"encoding/json"
	"os"
	"time"
)

// FenceEnv names the fence file of the lease the command that runs Terraform
// holds (stack.StepRun.Fence): past its deadlines the command may have lost
// the lease, and the shim (or its keeper) interrupts, then kills Terraform's
// group, so nothing of it writes once another workstation may take over.
const FenceEnv = "STACK_TERRAFORM_SHIM_FENCE"

// fenceCheckEvery is how often the fence file is read: small against any
// lease TTL (the fence leaves TTL/3 between interrupt and kill).
const fenceCheckEvery = 100 * time.Millisecond

// Fence is the part of a fence file (stack.FenceFile, written by package
// state) the shim reads; the shim is built from this package alone, so it
// cannot import the type.
type Fence struct {
	InterruptAt time.Time `json:"interrupt_at"`
	KillAt      time.Time `json:"kill_at"`
}

// ReadFence reads a fence file; a missing one means the lease was released.
func ReadFence(path string) (*Fence, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f Fence
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, err
	}
	return &f, nil
}
