// Command tfcount stands in for terraform on bench/dag's PATH: it appends the
// Terraform command it is asked for ("apply", "init", "version", ...) to the
// file TFCOUNT_LOG names and becomes the Terraform binary TFCOUNT_REAL names
// (execve, so it adds no process of its own and about a millisecond of CPU).
package main

import (
	"fmt"
	"os"
	"strings"
	"syscall"
)

func main() {
	real := os.Getenv("TFCOUNT_REAL")
	if real == "" {
		fmt.Fprintln(os.Stderr, "tfcount: set TFCOUNT_REAL to the Terraform binary")
		os.Exit(1)
	}
	if log := os.Getenv("TFCOUNT_LOG"); log != "" {
		word := "(none)"
		for _, a := range os.Args[1:] {
			if !strings.HasPrefix(a, "-") {
				word = a
				break
			}
			if a == "-version" || a == "--version" || a == "-v" {
				word = "version"
				break
			}
		}
		if f, err := os.OpenFile(log, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
			_, _ = f.WriteString(word + "\n")
			_ = f.Close()
		}
	}
	err := syscall.Exec(real, append([]string{real}, os.Args[1:]...), os.Environ())
	fmt.Fprintf(os.Stderr, "tfcount: running %s: %v\n", real, err)
	os.Exit(1)
}
