package terraform

import "github.com/stack-tools/stack/steps/terraform/tfshim"

// Terraform runs under a shim (package tfshim): a small program that starts
// Terraform in a process group of its own and records that group in the
// step's working copy, so that Terraform outlives a killed `stack` and the
// next command on this host waits for it instead of breaking its lock. The
// kind builds the shim once with the Go toolchain into its cache (see
// shimbuild.go); without one, the stack binary itself acts as the shim.

type processFile = tfshim.ProcessFile

const (
	shimExecEnv     = tfshim.ExecEnv
	shimProcFileEnv = tfshim.ProcFileEnv
	shimGraceEnv    = tfshim.GraceEnv
	shimFenceEnv    = tfshim.FenceEnv
	interruptGrace  = tfshim.DefaultGrace
	shimSupported   = tfshim.Supported
)

func processFilePath(workDir string) string { return tfshim.ProcessFilePath(workDir) }

func readProcessFile(path string) (*processFile, error) { return tfshim.ReadProcessFile(path) }

// RunShimIfAsked turns this process into the Terraform shim when the Kind
// started it as one, and then exits. Programs that set Kind.Shim to their own
// executable call it first thing in main.
func RunShimIfAsked() { tfshim.RunIfAsked() }
