package stack

import (
	"fmt"
	"time"

	"github.com/stack-tools/stack/internal/proc"
)

// Process is a process group a step kind started (Terraform and whatever its
// provisioners run). It is recorded with the step while it runs so that a later
// command on the same host, taking over from a holder that died, waits for it
// instead of running beside it.
type Process struct {
	Host    string    `json:"host"`
	PID     int       `json:"pid"`
	PGID    int       `json:"pgid"`
	Command string    `json:"command,omitempty"`
	Started time.Time `json:"started"`
}

// Alive reports whether the group still has a live process. On another host
// this cannot be known and the answer is false: leases guard that case.
func (p *Process) Alive() bool {
	return p != nil && p.Host == proc.Host() && proc.GroupAlive(p.PGID)
}

func (p *Process) String() string {
	return fmt.Sprintf("%s (pid %d, process group %d on %s)", p.Command, p.PID, p.PGID, p.Host)
}
