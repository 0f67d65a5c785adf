package terraform

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/terraform-exec/tfexec"

	"github.com/stack-tools/stack/stack"
)

// PlanStep runs `terraform plan -detailed-exitcode -lock=false` against the
// step's workspace with the step's inputs as they would be now, in the working
// copy run.WorkDir (the engine gives plans one apart from apply's). Nothing is
// written: the refreshed state stays in memory, no plan file is saved, no
// workspace is created, and with -lock=false a command applying the stack at
// the same time neither waits for nor is blocked by the plan.
func (k *Kind) PlanStep(ctx context.Context, run *stack.StepRun) (stack.PlanResult, error) {
	var res stack.PlanResult
	s, err := k.prepare(ctx, run)
	if err != nil {
		return res, err
	}
	// Ask the backend, not the marker of an earlier plan: the workspace may
	// have been deleted since (a down from another workstation).
	_ = os.Remove(filepath.Join(s.dataDir, "environment"))
	ok, err := s.selectWorkspace(ctx, false)
	if err != nil {
		return res, err
	}
	if !ok {
		return res, fmt.Errorf("the step's Terraform workspace %q does not exist in the stack's state: its resources are unknown to Terraform; run `stack rerun-step %s %s` to apply it again", workspace(run), run.Stack, run.Step)
	}
	secrets, err := s.secrets()
	if err != nil {
		return res, err
	}
	defer secrets.close()
	opts := []tfexec.PlanOption{tfexec.Lock(false), tfexec.Refresh(true)}
	if secrets != nil {
		opts = append(opts, tfexec.VarFile(secrets.path))
	}
	run.Progress("terraform plan")
	var out bytes.Buffer
	changes, err := s.tf.PlanJSON(ctx, &out, opts...)
	s.tf.SetStdout(io.Discard)
	summary := readPlanJSON(&out, run.Log)
	if err != nil {
		if len(summary.errors) > 0 {
			return res, fmt.Errorf("terraform plan: %s: %w", strings.Join(summary.errors, "; "), err)
		}
		return res, fmt.Errorf("terraform plan: %w", err)
	}
	res = summary.result
	res.Changes = changes
	return res, nil
}

type planSummary struct {
	result stack.PlanResult
	errors []string
}

// readPlanJSON reads Terraform's JSON plan messages: the change summary, the
// resources that would change, and error diagnostics. The log gets the
// human-readable message of each (they carry addresses and actions, no values).
func readPlanJSON(r io.Reader, log io.Writer) planSummary {
	var sum planSummary
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for sc.Scan() {
		var m planMessage
		if json.Unmarshal(sc.Bytes(), &m) != nil {
			continue
		}
		fmt.Fprintln(log, m.Message)
		switch m.Type {
		case "change_summary":
			sum.result.Add, sum.result.Change, sum.result.Destroy = m.Changes.Add, m.Changes.Change, m.Changes.Remove
		case "planned_change":
			sum.result.Resources = append(sum.result.Resources, m.Change.Action+" "+m.Change.Resource.Addr)
		case "resource_drift":
			sum.result.Resources = append(sum.result.Resources, "changed outside Terraform ("+m.Change.Action+") "+m.Change.Resource.Addr)
		case "diagnostic":
			if m.Diag.Severity == "error" {
				sum.errors = append(sum.errors, strings.TrimSpace(m.Diag.Summary+": "+m.Diag.Detail))
			}
		}
	}
	return sum
}
