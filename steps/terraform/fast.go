package terraform

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hashicorp/terraform-exec/tfexec"

	"github.com/stack-tools/stack/stack"
)

// What is here keeps Terraform runs off a step's critical path: reading state
// straight from the backend instead of running `terraform output`, and
// remembering which Terraform binary passed the version check.

// stateFile is the part of Terraform's state (format version 4) read here.
type stateFile struct {
	Version int `json:"version"`
	Outputs map[string]struct {
		Value     json.RawMessage `json:"value"`
		Sensitive bool            `json:"sensitive"`
	} `json:"outputs"`
	Resources []json.RawMessage `json:"resources"`
	missing   bool              // the workspace has no state at all
}

// readState reads the step's state from the backend; ok is false when the
// backend cannot be read directly or the state is in a format not known here.
// A workspace without state reads as an empty state.
func (s *session) readState(ctx context.Context) (st stateFile, ok bool) {
	if s.backend.State == nil {
		return st, false
	}
	data, err := s.backend.State(ctx, workspace(s.run))
	if errors.Is(err, stack.ErrNotFound) {
		return stateFile{Version: 4, missing: true}, true
	}
	if err != nil || json.Unmarshal(data, &st) != nil || st.Version != 4 {
		return st, false
	}
	return st, true
}

// emptyState reports whether the step's state provably holds no resources,
// so that apply has nothing to refresh (`-refresh=false` is safe). The
// caller holds the stack's lease: nobody else applies this step meanwhile.
func (s *session) emptyState(ctx context.Context) bool {
	if s.created != nil {
		return true // by this command, so there is nothing to read
	}
	st, ok := s.readState(ctx)
	return ok && len(st.Resources) == 0
}

// stateOutputs reads the outputs, sensitive values included, from the state
// the apply just wrote; ok is false when only `terraform output` can.
func (s *session) stateOutputs(ctx context.Context) (stack.Outputs, bool) {
	st, ok := s.readState(ctx)
	if !ok || st.missing {
		return nil, false
	}
	outs := stack.Outputs{}
	for name, o := range st.Outputs {
		var v any
		if err := json.Unmarshal(o.Value, &v); err != nil {
			return nil, false
		}
		outs[name] = stack.Output{Value: v, Sensitive: o.Sensitive}
	}
	return outs, true
}

// found is what the version check of a Terraform binary established.
type found struct {
	Path    string `json:"path"`
	Size    int64  `json:"size"`
	ModTime int64  `json:"mod_time"`
	// Search is the PATH it was found on: a different one may find another.
	Search string `json:"search"`
}

func (k *Kind) foundFile() string { return filepath.Join(k.CacheDir, "terraform-bin", "found.json") }

// cachedTerraform returns the binary that passed the version check last time,
// if neither it nor PATH has changed since: the check runs `terraform version`, which
// costs a first step a noticeable part of a second.
func (k *Kind) cachedTerraform() (string, bool) {
	b, err := os.ReadFile(k.foundFile())
	if err != nil {
		return "", false
	}
	var f found
	if json.Unmarshal(b, &f) != nil || f.Path == "" || f.Search != os.Getenv("PATH") {
		return "", false
	}
	fi, err := os.Stat(f.Path)
	if err != nil || fi.Size() != f.Size || fi.ModTime().UnixNano() != f.ModTime {
		return "", false
	}
	return f.Path, true
}

// rememberTerraform notes a binary that passed the version check.
func (k *Kind) rememberTerraform(path string) {
	fi, err := os.Stat(path)
	if err != nil {
		return
	}
	b, _ := json.Marshal(found{Path: path, Size: fi.Size(), ModTime: fi.ModTime().UnixNano(), Search: os.Getenv("PATH")})
	_ = os.MkdirAll(filepath.Dir(k.foundFile()), 0o755)
	tmp := fmt.Sprintf("%s.%d", k.foundFile(), os.Getpid())
	if os.WriteFile(tmp, b, 0o644) == nil {
		_ = os.Rename(tmp, k.foundFile())
	}
}

// noState reports whether the step's workspace provably has no state yet:
// then it does not exist, and creating it needs no `workspace select` first.
func (s *session) noState(ctx context.Context) bool {
	st, ok := s.readState(ctx)
	return ok && st.missing
}

// handOver keeps the Terraform handle a preparation used for the step's
// apply: terraform-exec asks `terraform version` once per handle, which would
// otherwise cost the apply a Terraform run on the critical path.
func (k *Kind) handOver(workDir string, tf *tfexec.Terraform) { k.handles.Store(workDir, tf) }

// newTerraform returns the handle a preparation left for workDir, or a new one.
// Whoever takes a handle owns it alone.
func (k *Kind) newTerraform(workDir, dir, bin string) (*tfexec.Terraform, error) {
	if tf, ok := k.handles.LoadAndDelete(workDir); ok {
		return tf.(*tfexec.Terraform), nil
	}
	return tfexec.NewTerraform(dir, bin)
}

// noteInit remembers a data directory initialised for digest (module files
// and backend configuration).
func (k *Kind) noteInit(digest, dataDir string) { k.inited.Store(digest, dataDir) }

// initFromSibling initialises the session's data directory from one that
// init already prepared for the same digest, in this process: the same module
// under the same backend, as steps of one stack that use one module have. It
// does so only when that init left nothing but the backend's configuration
// (no providers, no module calls): then a copy of that file is exactly what
// init would write, and the copy spares a Terraform run.
func (k *Kind) initFromSibling(s *session, digest string) bool {
	v, ok := k.inited.Load(digest)
	if !ok || v.(string) == s.dataDir {
		return false
	}
	src := v.(string)
	if !onlyBackendState(src) {
		return false
	}
	b, err := os.ReadFile(filepath.Join(src, "terraform.tfstate"))
	if err != nil || os.MkdirAll(s.dataDir, 0o700) != nil {
		return false
	}
	if os.WriteFile(filepath.Join(s.dataDir, "terraform.tfstate"), b, 0o600) != nil {
		return false
	}
	s.run.Progress("terraform init: same module and backend as a step already initialised")
	return true
}
