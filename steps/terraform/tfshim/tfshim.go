package tfshim

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// Package tfshim is the Terraform shim: a small program that starts Terraform
// in a process group of its own and records that group in the step's working
// copy. terraform-exec gives Terraform a parent-death signal on Linux, so a
// `stack` killed with SIGKILL would take Terraform down mid-apply, losing the
// resources it had created but not yet saved. Under the shim only the shim
// dies with `stack`; Terraform finishes, saves its state and exits, and the
// next command on this host waits for it instead of breaking its lock.
//
// The shim is built from this package's files alone (no other package of the
// module, so that it starts in a few milliseconds: see Sources and
// steps/terraform's shimbuild.go); a stack binary can also act as the shim
// (RunIfAsked first thing in main), at the cost of starting all of stack.
//
// The shim also owns Ctrl-C: terraform-exec interrupts the shim, the shim
// interrupts the whole group (Terraform and what its provisioners started),
// and after the grace period kills the group, so no local-exec outlives it.
const (
	ExecEnv     = "STACK_TERRAFORM_SHIM_EXEC"     // the Terraform binary the shim runs
	ProcFileEnv = "STACK_TERRAFORM_SHIM_PROCFILE" // where it records the process group
	GraceEnv    = "STACK_TERRAFORM_SHIM_GRACE"    // interrupt-to-kill delay
)

// DefaultGrace is how long Terraform has after an interrupt to save its
// state before its process group is killed.
const DefaultGrace = 2 * time.Minute

// Supported says whether the shim can do its job on this platform (it needs
// process groups); where not, Terraform runs directly.
const Supported = shimSupported

// RunIfAsked turns this process into the Terraform shim when the terraform
// kind started it as one, and then exits.
func RunIfAsked() {
	runKeeperIfAsked()
	bin := os.Getenv(ExecEnv)
	if bin == "" {
		return
	}
	os.Exit(runShim(bin))
}

// Sources are the files the shim is built from on its own (with a main
// package calling RunIfAsked): this package's, tests aside.
//
//go:embed tfshim.go shim_unix.go shim_other.go group_unix.go group_linux.go group_other.go fence.go keeper_unix.go
var Sources embed.FS

// Digest names this shim's code and the Go release that builds it: a shim
// built from Sources with this Go is the one this program expects.
func Digest() string {
	h := sha256.New()
	h.Write([]byte(runtime.Version() + "\x00"))
	_ = fs.WalkDir(Sources, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := Sources.ReadFile(p)
			h.Write([]byte(p + "\x00"))
			h.Write(b)
		}
		return nil
	})
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// ProcessFile is what the shim records about the Terraform it runs.
type ProcessFile struct {
	Host    string    `json:"host"`
	PID     int       `json:"pid"` // Terraform's; 0 until it started
	PGID    int       `json:"pgid"`
	ShimPID int       `json:"shim_pid"`
	Command string    `json:"command"`
	Started time.Time `json:"started"`
}

// ProcessFilePath is where the shim of a step's Terraform records it.
func ProcessFilePath(workDir string) string { return filepath.Join(workDir, "terraform-process.json") }

// ReadProcessFile reads what a shim recorded.
func ReadProcessFile(path string) (*ProcessFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var p ProcessFile
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// writeProcessFile replaces the file atomically: a reader never sees half of it.
func writeProcessFile(path string, p *ProcessFile) error {
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
