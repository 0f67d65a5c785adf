package terraform

import (
	"context"
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
