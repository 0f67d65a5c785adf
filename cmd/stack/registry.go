package main

import (
	"os"
	"path/filepath"

	"github.com/stack-tools/stack/handlers/aurora"
	"github.com/stack-tools/stack/handlers/zookeeper"
	"github.com/stack-tools/stack/stack"
	"github.com/stack-tools/stack/steps/exec"
	"github.com/stack-tools/stack/steps/generator"
	"github.com/stack-tools/stack/steps/terraform"
)

// newRegistry registers every step kind and handler this build knows.
func newRegistry(g *globalOptions) *stack.Registry {
	r := stack.NewRegistry()
	tf := terraform.New(filepath.Join(g.cache(), "terraform"))
	tf.Shim, _ = os.Executable() // main runs the shim when asked
	tf.LightShim = true          // but a small one is cheaper (steps/terraform/shimbuild.go)
	r.RegisterStep("terraform", tf)
	gen := generator.New()
	gen.ZooKeeper = g.zookeeper
	gen.Exe, _ = os.Executable() // runs persistent generator steps (generator-run)
	r.RegisterStep("generator", gen)
	r.RegisterStep("exec", exec.New())
	r.RegisterHandler("aurora", aurora.New(aurora.Options{}))
	r.RegisterHandler("zookeeper", zookeeper.New(zookeeper.OptionsFromEnv(g.zookeeper, os.Getenv)))
	return r
}

// setMetricsAddr makes generator steps serve live metrics at addr (`up
// --metrics-addr`) unless a step names its own.
func setMetricsAddr(r *stack.Registry, addr string) {
	if k, ok := r.Step("generator"); ok && addr != "" {
		if gen, ok := k.(*generator.Kind); ok {
			gen.MetricsAddr = addr
		}
	}
}
