package terraform

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/stack-tools/stack/stack"
)

// prohibited are variables terraform-exec sets itself and refuses from callers.
var prohibited = regexp.MustCompile(`^TF_(CLI_ARGS.*|INPUT|IN_AUTOMATION|LOG.*|REATTACH_PROVIDERS|APPEND_USER_AGENT|WORKSPACE|DISABLE_PLUGIN_TLS|SKIP_PROVIDER_VERIFY|VAR_.*)$`)

// env is the environment Terraform runs in for a step.
func (k *Kind) env(run *stack.StepRun, dataDir string, backendEnv map[string]string) map[string]string {
	cache := filepath.Join(k.CacheDir, "plugin-cache")
	_ = os.MkdirAll(cache, 0o755)
	exe, err := os.Executable()
	if err != nil {
		exe = ""
	}
	return stepEnv(os.Environ(), dataDir, cache, exe, backendEnv)
}

// stepEnv builds Terraform's environment from this process's (environ, as
// "NAME=value"): what terraform-exec refuses is dropped, the step's data
// directory, the shared plugin cache and the backend's variables are set, and
// STACK_BIN names stackBin unless already set (modules run it; "" leaves it).
func stepEnv(environ []string, dataDir, pluginCache, stackBin string, backendEnv map[string]string) map[string]string {
	env := map[string]string{}
	for _, kv := range environ {
		name, val, _ := strings.Cut(kv, "=")
		if !prohibited.MatchString(name) {
			env[name] = val
		}
	}
	env["TF_DATA_DIR"] = dataDir
	env["TF_PLUGIN_CACHE_DIR"] = pluginCache
	env["CHECKPOINT_DISABLE"] = "1"
	if f := env["TF_CLI_CONFIG_FILE"]; f != "" {
		if _, err := os.Stat(f); err != nil {
			delete(env, "TF_CLI_CONFIG_FILE") // a missing file only makes Terraform warn
		}
	}
	if stackBin != "" && env["STACK_BIN"] == "" {
		env["STACK_BIN"] = stackBin
	}
	for k, v := range backendEnv {
		env[k] = v
	}
	return env
}
