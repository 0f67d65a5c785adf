// Command stack stands up synthetic environments from stack definitions, drives
// load at them and tears them down.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/stack-tools/stack/definition"
	"github.com/stack-tools/stack/steps/terraform"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailed  = 1 // a step failed, or the command could not finish
	exitInvalid = 2 // bad usage or an invalid definition
)

func main() {
	terraform.RunShimIfAsked() // this binary also runs Terraform under a shim (see steps/terraform)
	os.Exit(run())
}

func run() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		// A second Ctrl-C kills at once; the first lets Terraform save its state.
		stop()
	}()
	root := newRootCmd()
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	if code, ok := exitCode(err); ok {
		return code
	}
	if unknownCommand(err) {
		fmt.Fprintf(os.Stderr, "Error: %s\nRun `stack --help` for the commands.\n", strings.TrimSpace(err.Error()))
		return exitInvalid
	}
	fmt.Fprintln(os.Stderr, "Error:", err)
	var usage *usageError
	if definition.IsInvalid(err) || errors.As(err, &usage) {
		if cmd != nil && cmd.Annotations[driftExit] != "" {
			// 2 means drift there, as with terraform plan -detailed-exitcode:
			// a script must not read a typo as drift.
			return exitFailed
		}
		return exitInvalid
	}
	return exitFailed
}

// driftExit marks a command whose exit status 2 reports changes (stack plan):
// its bad usage and invalid definitions exit 1, as its other errors do.
const driftExit = "drift-exit"

// usageError is a command-line mistake (exit 2).
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// unknownCommand reports cobra's error for a command it does not have, which
// it returns as a plain error: a usage mistake like any other (exit 2).
func unknownCommand(err error) bool {
	return strings.HasPrefix(err.Error(), "unknown command ")
}
