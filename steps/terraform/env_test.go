package terraform

import (
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"

	"github.com/hashicorp/terraform-exec/tfexec"
)

func TestStepEnv(t *testing.T) {
	cliConfig := filepath.Join(t.TempDir(), "terraformrc")
	if err := os.WriteFile(cliConfig, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	const data, cache, exe = "/w/data", "/c/plugin-cache", "/bin/stack"
	tests := []struct {
		name     string
		environ  []string
		stackBin string
		backend  map[string]string
		want     map[string]string // value each must have
		absent   []string
	}{
		{name: "passes the rest, value with =", environ: []string{"HOME=/root", "PATH=/bin", "AWS_PROFILE=dev", "X=a=b", "EMPTY=", "NOVALUE"},
			want: map[string]string{"HOME": "/root", "PATH": "/bin", "AWS_PROFILE": "dev", "X": "a=b", "EMPTY": "", "NOVALUE": ""}},
		{name: "passes Terraform variables terraform-exec allows",
			environ: []string{"TF_TOKEN_app_terraform_io=tok", "TF_REGISTRY_CLIENT_TIMEOUT=30", "TF_INPUTS=1", "TF_VARS=1", "TF_PLUGIN_CACHE_MAY_BREAK_DEPENDENCY_LOCK_FILE=1"},
			want:    map[string]string{"TF_TOKEN_app_terraform_io": "tok", "TF_REGISTRY_CLIENT_TIMEOUT": "30", "TF_INPUTS": "1", "TF_VARS": "1", "TF_PLUGIN_CACHE_MAY_BREAK_DEPENDENCY_LOCK_FILE": "1"}},
		{name: "drops what terraform-exec sets or refuses",
			environ: []string{"TF_LOG=TRACE", "TF_LOG_CORE=1", "TF_LOG_PATH=/tmp/l", "TF_LOG_PROVIDER=1", "TF_CLI_ARGS=-x", "TF_CLI_ARGS_apply=-refresh=true",
				"TF_INPUT=1", "TF_IN_AUTOMATION=1", "TF_REATTACH_PROVIDERS={}", "TF_APPEND_USER_AGENT=me", "TF_WORKSPACE=prod",
				"TF_DISABLE_PLUGIN_TLS=1", "TF_SKIP_PROVIDER_VERIFY=1", "TF_VAR_password=secret",
				"TF_LOGGER=x", "TF_CLI_ARGSX=1"}, // TF_LOG* and TF_CLI_ARGS* go whole
			absent: []string{"TF_LOG", "TF_LOG_CORE", "TF_LOG_PATH", "TF_LOG_PROVIDER", "TF_CLI_ARGS", "TF_CLI_ARGS_apply", "TF_INPUT", "TF_IN_AUTOMATION",
				"TF_REATTACH_PROVIDERS", "TF_APPEND_USER_AGENT", "TF_WORKSPACE", "TF_DISABLE_PLUGIN_TLS", "TF_SKIP_PROVIDER_VERIFY", "TF_VAR_password",
				"TF_LOGGER", "TF_CLI_ARGSX"}},
		{name: "sets the step's directories and no checkpoint", environ: []string{"TF_DATA_DIR=/other", "TF_PLUGIN_CACHE_DIR=/other", "CHECKPOINT_DISABLE="},
			want: map[string]string{"TF_DATA_DIR": data, "TF_PLUGIN_CACHE_DIR": cache, "CHECKPOINT_DISABLE": "1"}},
		{name: "drops a CLI config file that is missing", environ: []string{"TF_CLI_CONFIG_FILE=/nonexistent/terraformrc"},
			absent: []string{"TF_CLI_CONFIG_FILE"}},
		{name: "keeps a CLI config file that exists", environ: []string{"TF_CLI_CONFIG_FILE=" + cliConfig},
			want: map[string]string{"TF_CLI_CONFIG_FILE": cliConfig}},
		{name: "adds STACK_BIN", stackBin: exe, want: map[string]string{"STACK_BIN": exe}},
		{name: "keeps a STACK_BIN set", environ: []string{"STACK_BIN=/opt/stack"}, stackBin: exe, want: map[string]string{"STACK_BIN": "/opt/stack"}},
		{name: "replaces an empty STACK_BIN", environ: []string{"STACK_BIN="}, stackBin: exe, want: map[string]string{"STACK_BIN": exe}},
		{name: "no STACK_BIN without an executable", absent: []string{"STACK_BIN"}},
		{name: "the backend's variables win", environ: []string{"AWS_ENDPOINT_URL_S3=http://a", "AWS_REGION=us-east-1"},
			backend: map[string]string{"AWS_ENDPOINT_URL_S3": "http://minio:9000", "AWS_S3_USE_PATH_STYLE": "true"},
			want:    map[string]string{"AWS_ENDPOINT_URL_S3": "http://minio:9000", "AWS_S3_USE_PATH_STYLE": "true", "AWS_REGION": "us-east-1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := stepEnv(tt.environ, data, cache, tt.stackBin, tt.backend)
			for name, want := range tt.want {
				if got, ok := env[name]; !ok || got != want {
					t.Errorf("%s = %q (set %v), want %q", name, got, ok, want)
				}
			}
			for _, name := range tt.absent {
				if got, ok := env[name]; ok {
					t.Errorf("%s = %q passed; want it dropped", name, got)
				}
			}
			if env["TF_DATA_DIR"] != data || env["TF_PLUGIN_CACHE_DIR"] != cache || env["CHECKPOINT_DISABLE"] != "1" {
				t.Errorf("the step's settings are missing: %v", env)
			}
		})
	}
}

// Whatever this process's environment holds, terraform-exec accepts the
// step's: SetEnv refuses the variables it manages itself.
func TestStepEnvSuitsTerraformExec(t *testing.T) {
	environ := []string{"HOME=/root"}
	for _, name := range []string{"TF_CLI_ARGS", "TF_CLI_ARGS_plan", "TF_INPUT", "TF_IN_AUTOMATION", "TF_LOG", "TF_LOG_CORE", "TF_LOG_PATH",
		"TF_LOG_PROVIDER", "TF_REATTACH_PROVIDERS", "TF_APPEND_USER_AGENT", "TF_WORKSPACE", "TF_DISABLE_PLUGIN_TLS",
		"TF_SKIP_PROVIDER_VERIFY", "TF_VAR_x"} {
		environ = append(environ, name+"=1")
	}
	env := stepEnv(environ, "/d", "/c", "", nil)
	if bad := tfexec.ProhibitedEnv(env); len(bad) > 0 {
		sort.Strings(bad)
		t.Errorf("terraform-exec refuses %v", bad)
	}
	want := map[string]string{"HOME": "/root", "TF_DATA_DIR": "/d", "TF_PLUGIN_CACHE_DIR": "/c", "CHECKPOINT_DISABLE": "1"}
	if !reflect.DeepEqual(env, want) {
		t.Errorf("env = %v, want %v", env, want)
	}
}
