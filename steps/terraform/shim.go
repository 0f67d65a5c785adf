package terraform

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Terraform runs under a shim: a copy of the stack binary that starts Terraform
// in a process group of its own and records that group in the step's working
// copy. terraform-exec gives Terraform a parent-death signal on Linux, so a
// `stack` killed with SIGKILL would take Terraform down mid-apply, losing the
// resources it had created but not yet saved. Under the shim only the shim
// dies with `stack`; Terraform finishes, saves its state and exits, and the
// next command on this host waits for it instead of breaking its lock.
//
// The shim also owns Ctrl-C: terraform-exec interrupts the shim, the shim
// interrupts the whole group (Terraform and what its provisioners started),
// and after the grace period kills the group, so no local-exec outlives it.
const (
	shimExecEnv     = "STACK_TERRAFORM_SHIM_EXEC"     // the Terraform binary the shim runs
	shimProcFileEnv = "STACK_TERRAFORM_SHIM_PROCFILE" // where it records the process group
	shimGraceEnv    = "STACK_TERRAFORM_SHIM_GRACE"    // interrupt-to-kill delay
	shimFenceEnv    = "STACK_TERRAFORM_SHIM_FENCE"    // the lease's fence file (stack.FenceFile)
)

// interruptGrace is how long Terraform has after an interrupt to save its
// state before its process group is killed.
const interruptGrace = 2 * time.Minute

// RunShimIfAsked turns this process into the Terraform shim when the Kind
// started it as one, and then exits. Programs that set Kind.Shim to their own
// executable call it first thing in main.
func RunShimIfAsked() {
	runKeeperIfAsked()
	bin := os.Getenv(shimExecEnv)
	if bin == "" {
		return
	}
	os.Exit(runShim(bin))
}

// processFile is what the shim records about the Terraform it runs.
type processFile struct {
	Host    string    `json:"host"`
	PID     int       `json:"pid"` // Terraform's; 0 until it started
	PGID    int       `json:"pgid"`
	ShimPID int       `json:"shim_pid"`
	Command string    `json:"command"`
	Started time.Time `json:"started"`
}

func processFilePath(workDir string) string { return filepath.Join(workDir, "terraform-process.json") }

func readProcessFile(path string) (*processFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var p processFile
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// writeProcessFile replaces the file atomically: a reader never sees half of it.
func writeProcessFile(path string, p *processFile) error {
	b, _ := json.Marshal(p)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// durable reports whether a Terraform command changes state and must be
// allowed to finish if stack dies: it then runs in the shim's process group
// with its output in files. Its output carries no sensitive value (Terraform
// redacts them in apply, plan and destroy output).
func durable(args []string) bool {
	var words []string
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			words = append(words, a)
		}
	}
	if len(words) == 0 {
		return false
	}
	switch words[0] {
	case "apply", "destroy", "plan", "refresh", "init", "import":
		return true
	case "state":
		return len(words) > 1 && words[1] == "push"
	}
	return false
}

// command names a Terraform command line for people: "terraform apply".
func command(args []string) string {
	for _, a := range args {
		if len(a) > 0 && a[0] != '-' {
			return "terraform " + a
		}
	}
	return "terraform"
}
