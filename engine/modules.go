package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/stack-tools/stack/definition"
	"github.com/stack-tools/stack/stack"
	"github.com/stack-tools/stack/state"
)

// moduleFiles returns what the kind says about its modules' files.
func moduleFiles(k stack.StepKind) stack.ModuleFiles {
	var files stack.ModuleFiles
	if f, ok := k.(stack.ModuleFilter); ok {
		files.Skip = f.SkipModuleFile
	}
	if c, ok := k.(stack.LocalModuleCaller); ok {
		files.Calls = c.LocalModuleCalls
	}
	return files
}

// saveModule stores a snapshot of the step's module unless the store has it.
func (e *Engine) saveModule(ctx context.Context, stackName, dir, digest string, files stack.ModuleFiles) error {
	data, err := stack.PackModule(dir, files)
	if err != nil {
		return fmt.Errorf("packing module %s: %w", dir, err)
	}
	_, err = e.Store.Put(context.WithoutCancel(ctx), state.ModuleKey(stackName, digest), data, "")
	if errors.Is(err, stack.ErrConflict) {
		return nil // the same content is there already
	}
	return err
}

// moduleFallback returns where to find a step's module on this workstation: the
// folder the definition names if it exists, otherwise the snapshot taken when
// the step was last applied, unpacked into the cache.
func (e *Engine) moduleFallback(ctx context.Context, rec *state.Record) func(step, dir string) string {
	return func(step, dir string) string {
		if st, err := os.Stat(dir); err == nil && st.IsDir() {
			return dir
		}
		ss := rec.Steps[step]
		if ss == nil || ss.ModuleDigest == "" {
			return dir
		}
		local := filepath.Join(e.CacheDir, "modules", rec.Name, ss.ModuleDigest)
		if _, err := os.Stat(local); err == nil {
			return stack.SnapshotModule(local)
		}
		data, _, err := e.Store.Get(ctx, state.ModuleKey(rec.Name, ss.ModuleDigest))
		if err != nil {
			return dir
		}
		tmp := local + ".tmp"
		_ = os.RemoveAll(tmp)
		if stack.UnpackModule(data, tmp) != nil || os.Rename(tmp, local) != nil {
			_ = os.RemoveAll(tmp)
			return dir
		}
		e.emit(Event{Stack: rec.Name, Step: step, Type: EventInfo, Message: fmt.Sprintf("module %s is not on this workstation: using the copy stored when the step was applied", dir)})
		return stack.SnapshotModule(local)
	}
}

// moduleSave is one module copy's storing in a run (runner.savedModules).
type moduleSave struct {
	mu    sync.Mutex
	saved bool
}

// saveModuleOnce stores the copy of step s's module (digest) unless this run
// has stored it already; steps finishing together wait for the first one's
// write. A failed write is tried again by the next step.
func (r *runner) saveModuleOnce(ctx context.Context, s *definition.Step, digest string) error {
	v, _ := r.savedModules.LoadOrStore(digest, &moduleSave{})
	ms := v.(*moduleSave)
	ms.mu.Lock()
	defer ms.mu.Unlock()
	if ms.saved {
		return nil
	}
	if err := r.e.saveModule(ctx, r.w.Name(), s.Module, digest, moduleFiles(s.Impl)); err != nil {
		return err
	}
	ms.saved = true
	return nil
}
