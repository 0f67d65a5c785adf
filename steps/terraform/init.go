package terraform

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/hashicorp/terraform-config-inspect/tfconfig"
	"github.com/hashicorp/terraform-exec/tfexec"

	"github.com/stack-tools/stack/internal/proc"
	"github.com/stack-tools/stack/stack"
)

// ensureInit runs `terraform init` unless the data directory was initialised
// for the module and backend as they are now. Steps initialising the same
// module under the same backend take turns, so that one init serves them all
// (see initFromSibling); a module initialised by another stack before needs
// none (see initFromTemplate).
func (k *Kind) ensureInit(ctx context.Context, s *session) error {
	// The variables file does not change what init does; the backend's is
	// counted apart, so that moduleDigest is the same in every stack.
	moduleDigest, err := stack.DirDigest(s.srcDir, stack.ModuleFiles{
		Skip: func(name string, isDir bool) bool {
			return name == varsFile || name == backendFile || skipModuleFile(name, isDir)
		},
		Calls: localModuleCalls,
	})
	if err != nil {
		return err
	}
	backend, err := os.ReadFile(filepath.Join(s.srcDir, backendFile))
	if err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(moduleDigest + "\x00" + string(backend)))
	digest := hex.EncodeToString(sum[:])
	marker := filepath.Join(s.dataDir, "stack-init")
	if old, _ := os.ReadFile(marker); string(old) == digest {
		return nil
	}
	s.run.Phase("init")
	mu, _ := k.initTurns.LoadOrStore(digest, &sync.Mutex{})
	mu.(*sync.Mutex).Lock()
	defer mu.(*sync.Mutex).Unlock()
	if !k.initFromSibling(s, digest) && !k.initFromTemplate(s, moduleDigest) {
		s.run.Progress("terraform init")
		if err := k.init(ctx, s); err != nil {
			return err
		}
		k.keepTemplate(s, moduleDigest)
	}
	if err := os.WriteFile(marker, []byte(digest), 0o600); err != nil {
		return err
	}
	k.noteInit(digest, s.dataDir)
	return nil
}

// initOptions are init's flags: the generated backend replaces whatever the
// data directory knew (-reconfigure), and providers already installed stay.
func initOptions() []tfexec.InitOption {
	return []tfexec.InitOption{tfexec.Reconfigure(true), tfexec.Upgrade(false)}
}

func (k *Kind) init(ctx context.Context, s *session) error {
	// Only provider installs touch the shared plugin cache; modules that use
	// nothing but built-in resources initialise in parallel.
	if usesProviders(s.srcDir) {
		k.initMu.Lock()
		defer k.initMu.Unlock()
		unlock, err := proc.LockFile(filepath.Join(k.CacheDir, "plugin-cache.lock"))
		if err != nil {
			return err
		}
		defer unlock()
	}
	if err := s.stream(func(w io.Writer) error {
		return s.tf.InitJSON(ctx, w, initOptions()...)
	}); err != nil {
		return fmt.Errorf("terraform init in %s failed (see the step's log): %w", s.srcDir, err)
	}
	return nil
}

// usesProviders reports whether init of the module in dir installs a provider:
// whether it needs any besides Terraform's built-in one (terraform_data,
// terraform_remote_state). tfconfig counts the providers of required_providers,
// of provider blocks and those implied by resource and data types. Module calls
// are not followed. A module that cannot be read counts as using providers.
func usesProviders(dir string) bool {
	mod, diags := tfconfig.LoadModule(dir)
	// A module call may bring providers of its own that init installs: count it
	// as using providers rather than follow its source.
	if diags.HasErrors() || len(mod.ModuleCalls) > 0 {
		return true
	}
	for name, req := range mod.RequiredProviders {
		if !builtinProvider(name, req) {
			return true
		}
	}
	return false
}

// builtinProvider reports whether a provider requirement is the one built into
// Terraform, which init does not install.
func builtinProvider(name string, req *tfconfig.ProviderRequirement) bool {
	return name == "terraform" && (req == nil || req.Source == "" || req.Source == "terraform.io/builtin/terraform")
}
