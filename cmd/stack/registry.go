package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/stack-tools/stack/handlers/aurora"
	"github.com/stack-tools/stack/handlers/zookeeper"
	"github.com/stack-tools/stack/stack"
	"github.com/stack-tools/stack/steps/exec"
	"github.com/stack-tools/stack/steps/generator"
	"github.com/stack-tools/stack/steps/terraform"
	"github.com/stack-tools/stack/stores/localstore"
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
	gen.State, gen.OpenStore = absState(g.state), openStore
	gen.CheckEvery = persistentCheckEvery()
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

// absState is a --state value another process can open wherever it runs: a
// directory made absolute (the default one named).
func absState(state string) string {
	switch {
	case strings.HasPrefix(state, "s3://"):
		return state
	case state == "":
		return localstore.DefaultDir()
	}
	if abs, err := filepath.Abs(state); err == nil {
		return abs
	}
	return state
}

// persistentCheckEvery is STACK_GENERATOR_CHECK_EVERY: how often a persistent
// generator run reads its mark in the store (default 10s).
func persistentCheckEvery() time.Duration {
	v := os.Getenv("STACK_GENERATOR_CHECK_EVERY")
	if v == "" {
		return 0
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		fmt.Fprintf(os.Stderr, "stack: STACK_GENERATOR_CHECK_EVERY=%q is not a positive duration such as 10s: using %s\n", v, generator.DefaultCheckEvery)
		return 0
	}
	return d
}
