// Package modules_test checks every Terraform module in this folder and every
// stack definition in ../stacks offline: no providers, no network, no AWS
// account. It is what CI runs in place of `terraform validate`, which would
// need the providers downloaded.
package modules_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-config-inspect/tfconfig"

	"github.com/stack-tools/stack/definition"
	"github.com/stack-tools/stack/handlers/aurora"
	"github.com/stack-tools/stack/handlers/zookeeper"
	"github.com/stack-tools/stack/internal/testenv"
	"github.com/stack-tools/stack/stack"
	"github.com/stack-tools/stack/steps/generator"
	"github.com/stack-tools/stack/steps/terraform"
)

const stacksDir = "../stacks"

// moduleDirs lists every folder under modules/ that holds .tf files.
func moduleDirs(t *testing.T) []string {
	t.Helper()
	var dirs []string
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && strings.HasPrefix(d.Name(), ".") && path != "." {
			return filepath.SkipDir
		}
		// "_" folders hold files that modules include through symlinks, not modules.
		if d.IsDir() && strings.HasPrefix(d.Name(), "_") {
			return filepath.SkipDir
		}
		if d.IsDir() && tfconfig.IsModuleDir(path) {
			dirs = append(dirs, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) == 0 {
		t.Fatal("no Terraform modules found under modules/")
	}
	return dirs
}

func terraformBinary(t *testing.T) string {
	t.Helper()
	bin, err := testenv.FindBinary("terraform", "TERRAFORM")
	if err != nil {
		testenv.Missing(t, err)
	}
	return bin
}

// fmtCheck runs `terraform fmt -check -recursive` on dir and returns the files
// it would change.
func fmtCheck(t *testing.T, bin, dir string) (changed []string, ok bool) {
	t.Helper()
	cmd := exec.Command(bin, "fmt", "-check", "-recursive", "-list=true", dir)
	cmd.Env = append(os.Environ(), "TF_CLI_CONFIG_FILE="+os.DevNull, "CHECKPOINT_DISABLE=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		if _, exit := err.(*exec.ExitError); !exit {
			t.Fatalf("running terraform fmt: %v", err)
		}
	}
	return strings.Fields(stdout.String()), err == nil
}

func TestEveryModuleIsFormatted(t *testing.T) {
	bin := terraformBinary(t)
	changed, ok := fmtCheck(t, bin, ".")
	if !ok {
		t.Fatalf("terraform fmt -check fails; run `terraform fmt -recursive modules` to fix: %v", changed)
	}
}

// The fmt check must catch a badly formatted module, or the test above proves nothing.
func TestFormatCheckCatchesMisformattedModule(t *testing.T) {
	bin := terraformBinary(t)
	dir := t.TempDir()
	src, err := os.ReadFile("aws/queue/outputs.tf")
	if err != nil {
		t.Fatal(err)
	}
	bad := bytes.Replace(src, []byte("  value       ="), []byte("  value ="), 1)
	if err := os.WriteFile(filepath.Join(dir, "outputs.tf"), bad, 0o644); err != nil {
		t.Fatal(err)
	}
	changed, ok := fmtCheck(t, bin, dir)
	if ok || len(changed) != 1 || filepath.Base(changed[0]) != "outputs.tf" {
		t.Fatalf("terraform fmt -check on a misaligned file: ok=%v, listed %v; want a failure naming outputs.tf", ok, changed)
	}
}

func TestEveryModuleInspects(t *testing.T) {
	for _, dir := range moduleDirs(t) {
		t.Run(dir, func(t *testing.T) {
			info, err := terraform.InspectModule(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(info.Outputs) == 0 {
				t.Errorf("%s declares no outputs; dependents and handlers have nothing to use", dir)
			}
		})
	}
}

// awsSteps lists the modules under aws/ that stacks apply as steps: all but
// the shared file (_shared) and the modules they call (internal).
func awsSteps(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir("aws")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		if e.IsDir() && e.Name() != "internal" && !strings.HasPrefix(e.Name(), "_") {
			got = append(got, e.Name())
		}
	}
	return got
}

// The AWS modules follow the layout the issue asks for: main.tf opening with a
// comment that says what the module makes, variables.tf, outputs.tf, and the
// AWS provider pinned so a new major version cannot change a stack silently.
// The pin, the provider and the variables every module takes are written once,
// in aws/_shared/stack.tf, which each module links to as stack.tf.
func TestAWSModulesLayout(t *testing.T) {
	want := []string{"aurora_network", "generator_fleet", "mail_dumpster", "network", "queue", "redis", "webhook_service", "workers"}
	got := awsSteps(t)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("modules/aws holds %v, want %v", got, want)
	}
	usesASG := map[string]bool{"generator_fleet": true, "mail_dumpster": true, "webhook_service": true, "workers": true}
	for _, name := range got {
		dir := filepath.Join("aws", name)
		for _, f := range []string{"main.tf", "variables.tf", "outputs.tf"} {
			if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
				t.Errorf("%s: %v", dir, err)
			}
		}
		main, _ := os.ReadFile(filepath.Join(dir, "main.tf"))
		if !bytes.HasPrefix(main, []byte("# "+name+": ")) {
			t.Errorf("%s/main.tf must open with a comment \"# %s: what it makes\"", dir, name)
		}
		if link, err := os.Readlink(filepath.Join(dir, "stack.tf")); err != nil || filepath.ToSlash(link) != "../_shared/stack.tf" {
			t.Errorf("%s/stack.tf must be a symlink to ../_shared/stack.tf (ln -s ../_shared/stack.tf %s/stack.tf; on Windows check out with core.symlinks=true): %q, %v", dir, dir, link, err)
		}
		if _, err := os.Stat(filepath.Join(dir, "versions.tf")); err == nil {
			t.Errorf("%s/versions.tf: the terraform block and provider are in stack.tf (../_shared/stack.tf)", dir)
		}
		mod, diags := tfconfig.LoadModule(dir)
		if diags.HasErrors() {
			t.Fatalf("%s: %v", dir, diags)
		}
		aws, ok := mod.RequiredProviders["aws"]
		if !ok || aws.Source != "hashicorp/aws" || len(aws.VersionConstraints) == 0 || !strings.HasPrefix(aws.VersionConstraints[0], "~>") {
			t.Errorf("%s: required_providers must pin aws = { source = \"hashicorp/aws\", version = \"~> X.Y\" }, got %+v", dir, aws)
		}
		// What the engine and the stacks count on every module to take.
		for _, v := range []string{"name", "region", "stack_identity", "tags"} {
			if mod.Variables[v] == nil {
				t.Errorf("%s does not declare variable %q (it comes from stack.tf)", dir, v)
			} else if pos := mod.Variables[v].Pos.Filename; filepath.Base(pos) != "stack.tf" {
				t.Errorf("%s declares variable %q in %s; only stack.tf may", dir, v, pos)
			}
		}
		if mod.Variables["name"] != nil && !mod.Variables["name"].Required {
			t.Errorf("%s: variable name must stay required", dir)
		}
		if mod.Variables["region"] != nil && mod.Variables["region"].Default != "us-east-1" {
			t.Errorf("%s: region defaults to %v, want us-east-1", dir, mod.Variables["region"].Default)
		}
		if len(mod.ProviderConfigs) != 1 || mod.ProviderConfigs["aws"] == nil {
			t.Errorf("%s configures providers %v, want the one aws of stack.tf", dir, mod.ProviderConfigs)
		}
		if call := mod.ModuleCalls["asg"]; usesASG[name] != (call != nil) || (call != nil && call.Source != "../internal/asg") {
			t.Errorf("%s: module \"asg\" = %+v; the launch template and group of %v come from ../internal/asg", dir, call, usesASG)
		}
	}
}

// registry is the one `stack validate` uses: every kind and handler.
func registry(t *testing.T) *stack.Registry {
	r := stack.NewRegistry()
	r.RegisterStep("terraform", terraform.New(t.TempDir()))
	r.RegisterStep("generator", generator.New())
	r.RegisterHandler("aurora", aurora.New(aurora.Options{}))
	r.RegisterHandler("zookeeper", zookeeper.New(zookeeper.Options{}))
	return r
}

// checkAllProfiles validates a definition with the engine under no profile and
// each of its profiles, and returns the problems per profile.
func checkAllProfiles(t *testing.T, def *definition.Definition) map[string][]definition.Problem {
	t.Helper()
	reg := registry(t)
	out := map[string][]definition.Problem{}
	for _, p := range append([]string{""}, def.ProfileNames()...) {
		_, err := definition.NewGraph(def, reg, definition.GraphOptions{Profile: p})
		var ie *definition.InvalidError
		switch {
		case errors.As(err, &ie):
			out[p] = ie.Problems
		case err != nil:
			t.Fatalf("profile %q: %v", p, err)
		}
	}
	return out
}

func stackFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(stacksDir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no stack definitions in %s (%v)", stacksDir, err)
	}
	return files
}

func TestEveryStackPassesModuleChecks(t *testing.T) {
	for _, file := range stackFiles(t) {
		t.Run(filepath.Base(file), func(t *testing.T) {
			def, err := definition.LoadDefinition(file)
			if err != nil {
				t.Fatal(err)
			}
			for profile, probs := range checkAllProfiles(t, def) {
				for _, p := range probs {
					t.Errorf("profile %q: %s", profile, p)
				}
			}
		})
	}
}

func TestSMSInboundHasBothProfiles(t *testing.T) {
	def, err := definition.LoadDefinition(filepath.Join(stacksDir, "sms-inbound.json"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(def.ProfileNames(), ","); got != "minimal,production" {
		t.Fatalf("profiles = %s, want minimal,production", got)
	}
	// Cross-step values come from references, never from ids pasted in.
	var raw any
	if err := json.Unmarshal(def.Raw, &raw); err != nil {
		t.Fatal(err)
	}
	walk(raw, func(s string) {
		for _, prefix := range []string{"vpc-", "subnet-", "sg-", "arn:aws:"} {
			if strings.HasPrefix(s, prefix) {
				t.Errorf("literal AWS identifier %q in the definition: pass it with ${steps.STEP.outputs.NAME}", s)
			}
		}
	})
}

func walk(v any, fn func(string)) {
	switch x := v.(type) {
	case string:
		fn(x)
	case map[string]any:
		for _, e := range x {
			walk(e, fn)
		}
	case []any:
		for _, e := range x {
			walk(e, fn)
		}
	}
}

// copyTree copies the stacks and modules folders into a temporary repository
// so a test can break one file without touching the real ones.
func copyTree(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for _, pair := range [][2]string{{stacksDir, "stacks"}, {".", "modules"}} {
		err := filepath.WalkDir(pair[0], func(path string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(pair[0], path)
			dst := filepath.Join(root, pair[1], rel)
			if d.IsDir() {
				return os.MkdirAll(dst, 0o755)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			return os.WriteFile(dst, data, 0o644)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// editDefinition rewrites the copied sms-inbound.json through fn.
func editDefinition(t *testing.T, root string, fn func(steps map[string]map[string]any)) string {
	t.Helper()
	file := filepath.Join(root, "stacks", "sms-inbound.json")
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var top map[string]any
	if err := dec.Decode(&top); err != nil {
		t.Fatal(err)
	}
	steps := map[string]map[string]any{}
	for _, s := range top["steps"].([]any) {
		m := s.(map[string]any)
		steps[m["name"].(string)] = m
	}
	fn(steps)
	out, err := json.MarshalIndent(top, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

func editFile(t *testing.T, file, old, new string) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte(old)) {
		t.Fatalf("%s does not contain %q", file, old)
	}
	if err := os.WriteFile(file, bytes.Replace(data, []byte(old), []byte(new), 1), 0o644); err != nil {
		t.Fatal(err)
	}
}

// expect is one problem a broken definition must produce: at path, with a
// message mentioning each of mentions.
type expect struct {
	path     string
	mentions []string
}

// brokenCases are deliberately broken copies of sms-inbound. Each must fail
// under the given profiles with a message naming the step, the module and the
// offending name, at the JSON path to edit, and pass under the others.
var brokenCases = []struct {
	name    string
	breakIt func(t *testing.T, root string)
	failsIn []string // profiles that must report it ("" = no profile)
	want    []expect // every problem reported, in order
	// cli is what `stack validate` must print for it: the step, the module
	// and the name. nil for checks the engine does not make.
	cli []string
}{
	{
		name: "reference to an output the module does not declare",
		breakIt: func(t *testing.T, root string) {
			editDefinition(t, root, func(steps map[string]map[string]any) {
				steps["workers"]["vars"].(map[string]any)["queue_url"] = "${steps.queue.outputs.url}"
			})
		},
		failsIn: []string{"", "minimal", "production"},
		cli:     []string{"steps[5].vars.queue_url", `step "queue"`, "module ../modules/aws/queue", `no output "url"`},
		want:    []expect{{"steps[5].vars.queue_url", []string{`step "queue"`, "module ../modules/aws/queue", `no output "url"`, "queue_url"}}},
	},
	{
		name: "module renames an output dependents use",
		breakIt: func(t *testing.T, root string) {
			editFile(t, filepath.Join(root, "modules", "aws", "queue", "outputs.tf"), `output "queue_arn"`, `output "arn"`)
		},
		failsIn: []string{"", "minimal", "production"},
		cli:     []string{"steps[4].vars.queue_arn", "steps[5].vars.queue_arn", `step "queue"`, "module ../modules/aws/queue", `no output "queue_arn"`},
		want: []expect{
			{"steps[4].vars.queue_arn", []string{`step "queue"`, "module ../modules/aws/queue", `no output "queue_arn"`, "arn, dead_letter_queue_arn"}},
			{"steps[5].vars.queue_arn", []string{`step "queue"`, "module ../modules/aws/queue", `no output "queue_arn"`, "arn, dead_letter_queue_arn"}},
		},
	},
	{
		name: "module renames an output its own handler and dependents use",
		breakIt: func(t *testing.T, root string) {
			editFile(t, filepath.Join(root, "modules", "aws", "redis", "outputs.tf"), `output "endpoint"`, `output "primary_endpoint"`)
		},
		failsIn: []string{"", "minimal", "production"},
		want: []expect{
			{"steps[2].on_complete[0].publish./synthetic/redis/host", []string{`step "redis"`, "module ../modules/aws/redis", `no output "endpoint"`, "primary_endpoint"}},
			{"steps[4].vars.redis_endpoint", []string{`step "redis"`, "module ../modules/aws/redis", `no output "endpoint"`, "primary_endpoint"}},
			{"steps[5].vars.redis_endpoint", []string{`step "redis"`, "module ../modules/aws/redis", `no output "endpoint"`, "primary_endpoint"}},
		},
	},
	{
		name: "handler uses an output nobody declares",
		breakIt: func(t *testing.T, root string) {
			editDefinition(t, root, func(steps map[string]map[string]any) {
				h := steps["mail-dumpster"]["on_complete"].([]any)[0].(map[string]any)
				h["publish"].(map[string]any)["/synthetic/mail/host"] = "${outputs.domain}"
			})
		},
		failsIn: []string{"", "minimal", "production"},
		want:    []expect{{"steps[6].on_complete[0].publish./synthetic/mail/host", []string{`step "mail-dumpster"`, "module ../modules/aws/mail_dumpster", `no output "domain"`, "mail_dumpster_domain"}}},
	},
	{
		name: "missing required variable",
		breakIt: func(t *testing.T, root string) {
			editDefinition(t, root, func(steps map[string]map[string]any) {
				delete(steps["workers"]["vars"].(map[string]any), "queue_arn")
			})
		},
		failsIn: []string{"", "minimal", "production"},
		cli:     []string{"steps[5].vars", `step "workers"`, "module ../modules/aws/workers", `required variable "queue_arn"`},
		want:    []expect{{"steps[5].vars", []string{`step "workers"`, "module ../modules/aws/workers", `required variable "queue_arn"`}}},
	},
	{
		name: "variable the module does not declare, in one profile only",
		breakIt: func(t *testing.T, root string) {
			editDefinition(t, root, func(steps map[string]map[string]any) {
				prod := steps["redis"]["profiles"].(map[string]any)["production"].(map[string]any)
				prod["vars"].(map[string]any)["node_count"] = 20
			})
		},
		failsIn: []string{"production"},
		cli:     []string{`step "redis"`, "module ../modules/aws/redis", `module has no variable "node_count"`},
		want:    []expect{{"steps[2].profiles.production.vars.node_count", []string{`step "redis"`, "module ../modules/aws/redis", "profile production", `module has no variable "node_count"`, "num_shards", "replicas_per_shard"}}},
	},
}

func TestBrokenCopiesOfSMSInboundFail(t *testing.T) {
	for _, tc := range brokenCases {
		t.Run(tc.name, func(t *testing.T) {
			root := copyTree(t)
			tc.breakIt(t, root)
			def, err := definition.LoadDefinition(filepath.Join(root, "stacks", "sms-inbound.json"))
			if err != nil {
				t.Fatal(err)
			}
			got := checkAllProfiles(t, def)
			for _, profile := range append([]string{""}, def.ProfileNames()...) {
				probs := got[profile]
				if !slices.Contains(tc.failsIn, profile) {
					if len(probs) > 0 {
						t.Errorf("profile %q should pass, got %v", profile, probs)
					}
					continue
				}
				if len(probs) != len(tc.want) {
					t.Errorf("profile %q: want %d problems, got %d: %v", profile, len(tc.want), len(probs), probs)
					continue
				}
				for i, w := range tc.want {
					msg := probs[i].String()
					if probs[i].Path != w.path {
						t.Errorf("profile %q: path %q, want %q (%s)", profile, probs[i].Path, w.path, msg)
					}
					if !strings.HasSuffix(probs[i].File, "sms-inbound.json") {
						t.Errorf("profile %q: problem does not name the definition file: %s", profile, msg)
					}
					for _, m := range w.mentions {
						if !strings.Contains(msg, m) {
							t.Errorf("profile %q: %q does not mention %q", profile, msg, m)
						}
					}
				}
			}
		})
	}
}

// effective applies a profile to a step the way the engine does: the
// profile's vars and kind fields override the step's, its on_complete replaces
// the step's.
func effective(s definition.StepDef, profile string) (vars map[string]any, handlers []definition.HandlerDef) {
	vars = map[string]any{}
	for k, v := range s.Vars {
		vars[k] = v
	}
	handlers = s.OnComplete
	if p, ok := s.Profiles[profile]; ok {
		for k, v := range p.Vars {
			vars[k] = v
		}
		if p.HasOnComplete {
			handlers = p.OnComplete
		}
	}
	return vars, handlers
}

func number(t *testing.T, v any, what string) float64 {
	t.Helper()
	n, ok := v.(json.Number)
	if !ok {
		t.Fatalf("%s = %v (%T), want a number", what, v, v)
	}
	f, err := n.Float64()
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// The users said what distinguishes the shapes: node and instance counts,
// cluster vs single node, number of AZs. Production must be bigger on each.
func TestSMSInboundProductionIsBiggerThanMinimal(t *testing.T) {
	def, err := definition.LoadDefinition(filepath.Join(stacksDir, "sms-inbound.json"))
	if err != nil {
		t.Fatal(err)
	}
	steps := map[string]definition.StepDef{}
	for _, s := range def.Steps {
		steps[s.Name] = s
	}
	bigger := func(step, variable string) {
		t.Helper()
		minVars, _ := effective(steps[step], "minimal")
		prodVars, _ := effective(steps[step], "production")
		lo := number(t, minVars[variable], step+" minimal "+variable)
		hi := number(t, prodVars[variable], step+" production "+variable)
		if hi <= lo {
			t.Errorf("%s.%s: production %v is not above minimal %v", step, variable, hi, lo)
		}
	}
	bigger("network", "az_count")
	bigger("network", "nat_gateway_count")
	bigger("webhook-service", "desired_capacity")
	bigger("workers", "instance_count")
	// The mail dumpster is one instance in both: in production it is the
	// load step's e2e probe, which keeps its journal on its instance.

	minRedis, _ := effective(steps["redis"], "minimal")
	prodRedis, _ := effective(steps["redis"], "production")
	if minRedis["cluster_mode"] != false || prodRedis["cluster_mode"] != true {
		t.Errorf("redis cluster_mode: minimal %v, production %v; want a single node for minimal and a cluster for production", minRedis["cluster_mode"], prodRedis["cluster_mode"])
	}
	nodes := number(t, prodRedis["num_shards"], "num_shards") * (1 + number(t, prodRedis["replicas_per_shard"], "replicas_per_shard"))
	if nodes < 2 {
		t.Errorf("production redis has %v nodes; want a real cluster", nodes)
	}

	instances := func(profile string) float64 {
		_, hs := effective(steps["aurora-network"], profile)
		for _, h := range hs {
			if h.Handler == "aurora" {
				var cfg struct{ Instances json.Number }
				if err := json.Unmarshal(h.Config, &cfg); err != nil {
					t.Fatal(err)
				}
				return number(t, cfg.Instances, profile+" aurora instances")
			}
		}
		t.Fatalf("no aurora handler on aurora-network under %s", profile)
		return 0
	}
	if lo, hi := instances("minimal"), instances("production"); hi <= lo {
		t.Errorf("aurora instances: production %v is not above minimal %v", hi, lo)
	}
}
