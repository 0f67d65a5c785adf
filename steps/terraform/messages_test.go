package terraform

import (
	"errors"
	"testing"
)

// Texts below are Terraform 1.11.4's own, produced in a temporary folder with a
// terraform_data module: on the local backend, and on the s3 backend (use_lockfile)
// against moto_server with a .tflock object put there first. tfexec returns a
// failed command's error as "exit status 1\n" followed by its stderr; with
// -json the errors are diagnostics on stdout instead (see stream_test.go).

// `terraform state push` while an apply holds the local state's lock.
const localLockedStderr = `
Error: Error acquiring the state lock

Error message: resource temporarily unavailable
Lock Info:
  ID:        a71c152d-4cd4-b4b8-a6fd-d12a005e05a6
  Path:      terraform.tfstate.d/foo/terraform.tfstate
  Operation: OperationTypeApply
  Who:       root@vm
  Version:   1.11.4
  Created:   2026-12-02 17:28:43.700218679 +0000 UTC
  Info:      


Terraform acquires a state lock to protect the state from being written
by multiple users at the same time. Please resolve the issue above and try
again. For most commands, you can disable locking with the "-lock=false"
flag, but this is not recommended.

`

// `terraform workspace new ws1` on the s3 backend while a killed creation's
// lock is left on the workspace's future state.
const s3NewWorkspaceLockedStderr = `failed to lock s3 state: operation error S3: PutObject, https response error StatusCode: 412, RequestID: wYGfxNtGZd6xutKPiUfSlHGx3z6KSaZAJnimXiWBmp8r0DtwCvyj, HostID: 9Gjjt1m+cjU4OPvX9O9/8RuvnG41MRb/18Oux2o5H5MY7ISNTlXN+Dz9IG62/ILVxhAGI0qyPfg=, api error PreconditionFailed: At least one of the pre-conditions you specified did not hold
Lock Info:
  ID:        5b1c0f6e-7d2a-4c1e-9f3b-8a6d2e4c1b90
  Path:      stack-msgs/p/tfstate/s/ws1/terraform.tfstate
  Operation: OperationTypeInvalid
  Who:       root@deadhost
  Version:   1.11.4
  Created:   2026-12-02 10:00:00 +0000 UTC
  Info:      

`

// `terraform workspace select nope` (the same on both backends).
const workspaceMissingStderr = `
Workspace "nope" doesn't exist.

You can create this workspace with the "new" subcommand 
or include the "-or-create" flag with the "select" subcommand.
`

// `terraform workspace new ws2` a second time.
const workspaceExistsStderr = `
Workspace "ws2" already exists
`

// The CLI configuration warning Terraform prints when TF_CLI_CONFIG_FILE names
// a missing file: not a failure of any kind.
const configWarningStderr = `There are some problems with the CLI configuration:
╷
│ Warning: Unable to open CLI configuration file
│
│ The CLI configuration file at "/root/.terraformrc" does not exist.
╵

`

// tfexecErr is the error terraform-exec returns for a command that failed
// with stderr.
func tfexecErr(stderr string) string {
	return errors.New("exit status 1\n" + stderr).Error()
}

func TestLockMessages(t *testing.T) {
	tests := []struct {
		name     string
		msg      string
		heldID   string // heldLockID: a command that could not acquire the lock
		infoID   string // lockInfoID: any lock described
		holder   string
		holderAt string
	}{
		{"local state push", tfexecErr(localLockedStderr),
			"a71c152d-4cd4-b4b8-a6fd-d12a005e05a6", "a71c152d-4cd4-b4b8-a6fd-d12a005e05a6", "root@vm", "vm"},
		{"s3 workspace new", tfexecErr(s3NewWorkspaceLockedStderr),
			"", "5b1c0f6e-7d2a-4c1e-9f3b-8a6d2e4c1b90", "root@deadhost", "deadhost"},
		{"s3 apply -json, wrapped by the stream", s3ApplyLockedErr(),
			"e2a8f0b4-3c61-4d7a-b9e5-1f2c3d4e5f60", "e2a8f0b4-3c61-4d7a-b9e5-1f2c3d4e5f60", "runner@ws-b.example.com", "ws-b.example.com"},
		{"workspace missing", tfexecErr(workspaceMissingStderr), "", "", "", ""},
		{"config warning before another error", tfexecErr(configWarningStderr + workspaceExistsStderr), "", "", "", ""},
		{"no lock ID", "Error acquiring the state lock\n\nError message: timeout", "", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, ok := heldLockID(tt.msg)
			if id != tt.heldID || ok != (tt.heldID != "") {
				t.Errorf("heldLockID = %q, %v; want %q", id, ok, tt.heldID)
			}
			id, ok = lockInfoID(tt.msg)
			if id != tt.infoID || ok != (tt.infoID != "") {
				t.Errorf("lockInfoID = %q, %v; want %q", id, ok, tt.infoID)
			}
			who := lockHolder(tt.msg)
			if who != tt.holder {
				t.Errorf("lockHolder = %q, want %q", who, tt.holder)
			}
			if who != "" && holderHost(who) != tt.holderAt {
				t.Errorf("holderHost(%q) = %q, want %q", who, holderHost(who), tt.holderAt)
			}
		})
	}
}

func TestWorkspaceMessages(t *testing.T) {
	tests := []struct {
		name            string
		msg             string
		missing, exists bool
	}{
		{"select a missing workspace", tfexecErr(workspaceMissingStderr), true, false},
		{"missing, after the CLI config warning", tfexecErr(configWarningStderr + workspaceMissingStderr), true, false},
		{"new, already there", tfexecErr(configWarningStderr + workspaceExistsStderr), false, true},
		{"new, locked", tfexecErr(s3NewWorkspaceLockedStderr), false, false},
		{"state locked", tfexecErr(localLockedStderr), false, false},
		{"config warning alone", tfexecErr(configWarningStderr), false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := workspaceMissing(tt.msg); got != tt.missing {
				t.Errorf("workspaceMissing = %v, want %v", got, tt.missing)
			}
			if got := workspaceExists(tt.msg); got != tt.exists {
				t.Errorf("workspaceExists = %v, want %v", got, tt.exists)
			}
		})
	}
}
