package stack

import (
	"encoding/json"
	"os"
	"time"
)

// FenceFile is what the holder of a stack's lease tells the processes its
// steps run (the Terraform shim) about the lease (StepRun.Fence): when to interrupt and when to kill. It is rewritten after
// every renewal; a process whose stack is paused or cut off finds the
// deadlines passed and stops on its own.
type FenceFile struct {
	Lease       string    `json:"lease"`
	InterruptAt time.Time `json:"interrupt_at"`
	KillAt      time.Time `json:"kill_at"`
}

// ReadFenceFile reads a fence file; a missing one means no fence.
func ReadFenceFile(path string) (*FenceFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f FenceFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, err
	}
	return &f, nil
}
