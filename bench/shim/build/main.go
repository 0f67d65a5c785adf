// Command build builds the Terraform shim (package tfshim) to the path given,
// as the terraform kind does into its cache, for bench/shim.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/stack-tools/stack/steps/terraform"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: build PATH")
		os.Exit(2)
	}
	if err := terraform.BuildShim(context.Background(), os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
