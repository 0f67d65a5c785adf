package main

import (
	"errors"
	"fmt"
	"os"
)

// exitError ends a command with a given exit code after its output already
// said what happened (`stack plan` exits 2 when something drifted).
type exitError struct {
	code int
	msg  string // printed to stderr when not empty
}

func (e *exitError) Error() string {
	if e.msg != "" {
		return e.msg
	}
	return fmt.Sprintf("exit %d", e.code)
}

// exitCode returns the code an exitError asks for, printing its message.
func exitCode(err error) (int, bool) {
	var ex *exitError
	if !errors.As(err, &ex) {
		return 0, false
	}
	if ex.msg != "" {
		fmt.Fprintln(os.Stderr, "Error:", ex.msg)
	}
	return ex.code, true
}
