package main

import (
	"os"
	"path/filepath"

	"github.com/stack-tools/stack/handlers/aurora"
	"github.com/stack-tools/stack/handlers/zookeeper"
	"github.com/stack-tools/stack/stack"
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
	gen.ZooKeeper, gen.MetricsAddr = g.zookeeper, g.metricsAddr
	r.RegisterStep("generator", gen)
	r.RegisterHandler("aurora", aurora.New(aurora.Options{}))
	r.RegisterHandler("zookeeper", zookeeper.New(zookeeper.OptionsFromEnv(g.zookeeper, os.Getenv)))
	return r
}
