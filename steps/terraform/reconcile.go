package terraform

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/hashicorp/terraform-exec/tfexec"
)

// reconcile runs before a step whose last run was interrupted is applied
// again: it plans from the saved state (refreshing it) and reports what the
// interrupted run left - what is already there, what is tainted, what is
// missing - so the apply that follows is not a surprise and the log says why
// a resource is created or replaced a second time.
func (s *session) reconcile(ctx context.Context, secrets *secretPipe) error {
	s.run.Progress("reconciling: the last run of this step was interrupted; planning from the state it saved")
	var rep *planReport
	err := s.retryLocked(ctx, func() error {
		rep = &planReport{log: s.run.Log}
		var opts []tfexec.PlanOption
		if secrets != nil {
			opts = append(opts, tfexec.VarFile(secrets.path))
		}
		_, err := s.tf.PlanJSON(ctx, rep, opts...)
		s.tf.SetStdout(io.Discard)
		rep.flush()
		if err != nil && len(rep.diags) > 0 {
			// With -json, Terraform's errors (a held lock among them) are on stdout.
			err = fmt.Errorf("terraform: %s: %w", strings.Join(rep.diags, "; "), err)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("planning from the state an interrupted run left (see the step's log): %w", err)
	}
	msg := rep.summary()
	s.run.Progress("%s", msg)
	fmt.Fprintf(s.run.Log, "# %s\n", msg)
	return nil
}

// planReport reads `terraform plan -json` lines: it logs them and keeps the
// planned changes and drift.
type planReport struct {
	log     io.Writer
	buf     bytes.Buffer
	changes []string
	drift   []string
	diags   []string
	add     int
	change  int
	remove  int
}

func (p *planReport) Write(b []byte) (int, error) {
	p.buf.Write(b)
	for {
		line, err := p.buf.ReadBytes('\n')
		if err != nil {
			p.buf.Write(line) // partial: wait for the rest
			return len(b), nil
		}
		p.line(line)
	}
}

func (p *planReport) flush() {
	if p != nil && p.buf.Len() > 0 {
		p.line(p.buf.Bytes())
		p.buf.Reset()
	}
}

func (p *planReport) line(b []byte) {
	var m planMessage
	if json.Unmarshal(b, &m) != nil {
		return
	}
	fmt.Fprintf(p.log, "%s\n", m.Message)
	switch m.Type {
	case "planned_change":
		c := m.Change.Action + " " + m.Change.Resource.Addr
		if m.Change.Reason != "" {
			c += " (" + strings.ReplaceAll(m.Change.Reason, "_", " ") + ")"
		}
		p.changes = append(p.changes, c)
	case "resource_drift":
		p.drift = append(p.drift, m.Change.Action+" "+m.Change.Resource.Addr)
	case "diagnostic":
		if m.Diag.Severity == "error" {
			p.diags = append(p.diags, strings.TrimSpace(m.Diag.Summary+": "+m.Diag.Detail))
		}
	case "change_summary":
		p.add, p.change, p.remove = m.Changes.Add, m.Changes.Change, m.Changes.Remove
	}
}

func (p *planReport) summary() string {
	if len(p.changes) == 0 && len(p.drift) == 0 {
		return "reconciled: the interrupted run had finished its changes; nothing is missing from the saved state"
	}
	msg := fmt.Sprintf("reconciled the interrupted run: to add %d, change %d, destroy %d", p.add, p.change, p.remove)
	if len(p.changes) > 0 {
		msg += ": " + strings.Join(p.changes, ", ")
	}
	if len(p.drift) > 0 {
		msg += "; changed outside Terraform: " + strings.Join(p.drift, ", ")
	}
	return msg
}
