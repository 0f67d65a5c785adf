package terraform

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/hashicorp/terraform-exec/tfexec"

	"github.com/stack-tools/stack/stack"
)

// Destroy destroys the step's resources and deletes its workspace.
func (k *Kind) Destroy(ctx context.Context, run *stack.StepRun) error {
	s, err := k.prepare(ctx, run)
	if err != nil {
		return err
	}
	ok, err := s.selectWorkspace(ctx, false)
	if err != nil {
		return err
	}
	if ok {
		if err := k.destroy(ctx, s); err != nil {
			return err
		}
	}
	// The init marker goes first: a kill in the middle of removing the working
	// copy must not leave a marker saying init is done beside a data folder
	// that lost its backend state (seen in the kill-point test: the next down
	// then failed with "Backend initialization required").
	_ = os.Remove(filepath.Join(s.dataDir, "stack-init"))
	return os.RemoveAll(run.WorkDir)
}

// destroyOptions are destroy's flags: the sensitive variables' file, if any.
func destroyOptions(varFile string) []tfexec.DestroyOption {
	var opts []tfexec.DestroyOption
	if varFile != "" {
		opts = append(opts, tfexec.VarFile(varFile))
	}
	return opts
}

// destroy runs `terraform destroy -json` in the selected workspace, then
// deletes the workspace.
func (k *Kind) destroy(ctx context.Context, s *session) error {
	if err := s.recoverUnsaved(ctx, false); err != nil {
		return err
	}
	secrets, err := s.secrets()
	if err != nil {
		return err
	}
	defer secrets.close()
	opts := destroyOptions(secrets.varFile())
	run := func() error {
		s.run.Progress("terraform destroy")
		defer k.watchProcess(s.run)()
		return s.retryLocked(ctx, func() error {
			return s.stream(func(w io.Writer) error { return s.tf.DestroyJSON(ctx, w, opts...) })
		})
	}
	if err := s.destroyUnsaved(ctx, run); err != nil {
		return err
	}
	if err := run(); err != nil {
		return err
	}
	if err := s.tf.WorkspaceSelect(ctx, "default"); err != nil {
		return fmt.Errorf("selecting the default workspace: %w", err)
	}
	ws := workspace(s.run)
	if err := s.tf.WorkspaceDelete(ctx, ws, tfexec.Force(true)); err != nil {
		return fmt.Errorf("deleting workspace %q: %w", ws, err)
	}
	return nil
}
