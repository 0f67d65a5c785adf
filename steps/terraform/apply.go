package terraform

import (
	"context"
	"io"

	"github.com/hashicorp/terraform-exec/tfexec"

	"github.com/stack-tools/stack/stack"
)

// Apply applies the module and returns its outputs.
func (k *Kind) Apply(ctx context.Context, run *stack.StepRun) (stack.Outputs, error) {
	run.Phase("prepare")
	s, err := k.prepare(ctx, run)
	if err != nil {
		return nil, err
	}
	run.Phase("workspace")
	if _, err := s.selectWorkspace(ctx, true); err != nil {
		return nil, err
	}
	if err := s.recoverUnsaved(ctx, true); err != nil {
		return nil, err
	}
	secrets, err := s.secrets()
	if err != nil {
		return nil, err
	}
	defer secrets.close()
	if run.Interrupted {
		if err := s.reconcile(ctx, secrets); err != nil {
			return nil, err
		}
	}
	fresh := s.emptyState(ctx)
	run.Progress("terraform apply")
	defer k.watchProcess(run)()
	run.Phase("plan") // until Terraform starts changing resources: see progressWriter
	s.journal = s.beginJournal(ctx, "terraform apply")
	streamed, err := s.apply(ctx, applyOptions(fresh, s.created != nil && s.created.unlocked, secrets.varFile()))
	s.endJournal(err)
	if err != nil {
		return nil, err
	}
	// The apply stream carries the outputs unless some are sensitive (it
	// redacts those); only then is a separate `terraform output` needed.
	if outs, ok := plainOutputs(streamed); ok {
		return outs, nil
	}
	run.Phase("outputs")
	if outs, ok := s.stateOutputs(ctx); ok {
		return outs, nil
	}
	return s.outputs(ctx)
}

// applyOptions are apply's flags: no refresh when the state provably holds no
// resources (fresh), no state lock in a workspace this command created and
// found no lock on (ours), and the sensitive variables' file if there is one.
func applyOptions(fresh, ours bool, varFile string) []tfexec.ApplyOption {
	var opts []tfexec.ApplyOption
	if fresh {
		// Nothing to refresh: the state has no resources.
		opts = append(opts, tfexec.Refresh(false))
	}
	if ours {
		// The workspace did not exist until this command created it (a
		// create-if-absent write), under the stack's lease, which fences
		// this command's Terraform: nobody else can know of it, let alone
		// hold its lock. On S3 the lock costs three round trips (put, read
		// back, delete) in every step's critical path; the preparation
		// checked for a lock a killed run left, with one.
		opts = append(opts, tfexec.Lock(false))
	}
	if varFile != "" {
		opts = append(opts, tfexec.VarFile(varFile))
	}
	return opts
}

// apply runs `terraform apply -json`, clearing a stale lock if one is in the
// way, and returns the outputs its stream reported (nil if none).
func (s *session) apply(ctx context.Context, opts []tfexec.ApplyOption) (map[string]streamedOutput, error) {
	var streamed map[string]streamedOutput
	err := s.retryLocked(ctx, func() error {
		var err error
		streamed, err = s.streamed(func(w io.Writer) error { return s.tf.ApplyJSON(ctx, w, opts...) })
		return err
	})
	return streamed, err
}
