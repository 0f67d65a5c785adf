package terraform

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// selectWorkspace selects the step's workspace, creating it if create is set.
// It reports false when the workspace does not exist and create is not set.
func (s *session) selectWorkspace(ctx context.Context, create bool) (bool, error) {
	ws := workspace(s.run)
	marker := filepath.Join(s.dataDir, "environment")
	if cur, err := os.ReadFile(marker); err == nil && strings.TrimSpace(string(cur)) == ws {
		return true, nil
	}
	if ok, done, err := s.selectDirectly(ctx, ws, create); done {
		return ok, err
	}
	if create && s.noState(ctx) {
		// Most likely a new workspace: create it without asking first.
		err := s.newWorkspace(ctx, ws)
		if err == nil {
			return true, nil
		}
		if !workspaceExists(err.Error()) {
			return false, fmt.Errorf("creating workspace %q: %w", ws, err)
		}
	}
	err := s.tf.WorkspaceSelect(ctx, ws)
	if err == nil {
		return true, nil
	}
	if !workspaceMissing(err.Error()) {
		return false, fmt.Errorf("selecting workspace %q: %w", ws, err)
	}
	if !create {
		return false, nil
	}
	if err := s.newWorkspace(ctx, ws); err != nil {
		return false, fmt.Errorf("creating workspace %q: %w", ws, err)
	}
	return true, nil
}

// selectDirectly selects the workspace, creating it if create is set, without
// running Terraform, where the backend allows it: it writes what `terraform
// workspace new` and `select` write, the workspace through
// Backend.NewWorkspace and the data directory's environment file. done is
// false when only Terraform can (the backend cannot create workspaces or read
// state, or the workspace has no state yet and create is not set).
func (s *session) selectDirectly(ctx context.Context, ws string, create bool) (ok, done bool, err error) {
	if create && s.backend.NewWorkspace != nil && s.version != nil {
		nw, err := s.backend.NewWorkspace(ctx, ws, newStateFile(s.version.String()))
		if err != nil {
			return false, true, fmt.Errorf("creating workspace %q: %w", ws, err)
		}
		if nw.Created {
			s.created = &createdWorkspace{known: knownState(nw.State), unlocked: !nw.Locked}
		}
		return true, true, writeEnvironment(s.dataDir, ws)
	}
	if create {
		return false, false, nil
	}
	if st, ok := s.readState(ctx); ok && !st.missing {
		return true, true, writeEnvironment(s.dataDir, ws)
	}
	return false, false, nil
}

// writeEnvironment selects workspace ws for the data directory dir as
// Terraform does: the name alone in dir/environment.
func writeEnvironment(dir, ws string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("selecting workspace %q: %w", ws, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "environment"), []byte(ws), 0o644); err != nil {
		return fmt.Errorf("selecting workspace %q: %w; check that %s is writable", ws, err, dir)
	}
	return nil
}

// newStateFile is the state `terraform workspace new` writes for a new
// workspace (Terraform tfVersion, state format 4), byte for byte but for the
// lineage, which is random: TestNewWorkspace* compare them.
func newStateFile(tfVersion string) []byte {
	var b [16]byte
	_, _ = rand.Read(b[:])
	lineage := fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
	return fmt.Appendf(nil, "{\n  \"version\": 4,\n  \"terraform_version\": %q,\n  \"serial\": 1,\n  \"lineage\": %q,\n  \"outputs\": {},\n  \"resources\": [],\n  \"check_results\": null\n}\n", tfVersion, lineage)
}

// workspaceExists recognises `terraform workspace new` failing because the
// workspace is already there: `Workspace "x" already exists`.
func workspaceExists(msg string) bool { return strings.Contains(msg, "already exists") }

// workspaceMissing recognises `terraform workspace select` failing because
// there is no such workspace: `Workspace "x" doesn't exist.`
func workspaceMissing(msg string) bool { return strings.Contains(msg, "doesn't exist") }

// newWorkspace creates the step's workspace. Creating one locks its future
// state; a command killed right then leaves a lock that no later run can get
// past and `terraform force-unlock` cannot reach (there is no workspace to
// select yet). Once no Terraform of the killed run is left, the backend drops
// that lock and the workspace is created again.
func (s *session) newWorkspace(ctx context.Context, ws string) error {
	err := s.tf.WorkspaceNew(ctx, ws)
	if err == nil || s.backend.DropNewWorkspaceLock == nil {
		return err
	}
	id, ok := lockInfoID(err.Error())
	if !ok {
		return err
	}
	if survivor(s.run) != nil {
		if werr := waitSurvivor(ctx, s.run); werr != nil {
			return werr
		}
	} else {
		s.run.Progress("removing the Terraform lock %s a killed run left on workspace %q before its state existed", id, ws)
		if derr := s.backend.DropNewWorkspaceLock(ctx, ws); derr != nil {
			return fmt.Errorf("%w (removing that stale lock also failed: %v)", err, derr)
		}
	}
	return s.tf.WorkspaceNew(ctx, ws)
}
