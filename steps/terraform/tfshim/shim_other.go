//go:build !unix

package tfshim

// shimSupported is false: without process groups the shim could not do its
// job, so Terraform runs directly.
const shimSupported = false

func runShim(bin string) int { return 1 }

func runKeeperIfAsked() {}
