package engine

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/stack-tools/stack/state"
)

// InterruptedError says a command was stopped (Ctrl-C, SIGTERM, or a lost
// lock) and what to do next. The steps it stopped are listed by name only:
// their errors are the interruption's echo ("signal: killed"), not a cause to
// fix. Each step's record keeps the details.
type InterruptedError struct {
	Stack   string
	Stopped []string // steps that were running and were stopped
	Again   string   // the command that resumes
	Cause   error
}

func (e *InterruptedError) Error() string {
	msg := fmt.Sprintf("stack %q: interrupted", e.Stack)
	if len(e.Stopped) > 0 {
		msg += "; stopped " + strings.Join(e.Stopped, ", ")
	}
	return msg + fmt.Sprintf("; run `%s` again to resume (finished steps are skipped); `stack status %s` shows where each step is", e.Again, e.Stack)
}

func (e *InterruptedError) Unwrap() error { return e.Cause }

// interrupted builds the error for a command cut short, or nil if ctx was not.
func interrupted(ctxErr error, stackName string, failed map[string]string, again string) error {
	if ctxErr == nil {
		return nil
	}
	return &InterruptedError{Stack: stackName, Stopped: slices.Sorted(maps.Keys(failed)), Again: again, Cause: ctxErr}
}

// againCommand is the command that resumes what rec's last command started.
func againCommand(rec *state.Record) string {
	if rest, ok := strings.CutPrefix(rec.Command, "rerun-step "); ok {
		return fmt.Sprintf("stack rerun-step %s %s", rec.Name, rest)
	}
	if rec.Command != "up" || rec.Source == "" {
		return fmt.Sprintf("stack %s %s", rec.Command, rec.Name)
	}
	return upCommand(rec.Source, rec.Name, rec.Profile, rec.Only, rec.Skip)
}
