package load

import (
	"context"
	"time"

	"github.com/stack-tools/stack/load/scenario"
)

// Reload re-reads a run's scenario every Every while it runs (Taz's "edit the
// templates without restarting the test"). The new body templates and vars
// apply from the next message; a scenario that fails to load, to parse or to
// render keeps the old one, and Log says why.
type Reload struct {
	Every time.Duration
	// Load reads the scenario again (a folder, an s3:// prefix...).
	Load func(ctx context.Context) (*scenario.Scenario, error)
	// Log reports each reload and each rejected one (may be nil).
	Log func(format string, args ...any)
}

func (r *Reload) run(ctx context.Context, gen *scenario.Generator, target string, initial *scenario.Scenario) {
	if r.Every <= 0 || r.Load == nil {
		return
	}
	logf := r.Log
	if logf == nil {
		logf = func(string, ...any) {}
	}
	tick := time.NewTicker(r.Every)
	defer tick.Stop()
	last, _ := initial.Files()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		sc, err := r.Load(ctx)
		if err == nil {
			var files map[string]string
			if files, err = sc.Files(); err == nil {
				if sameFiles(files, last) {
					continue
				}
				if err = gen.Reload(sc, target); err == nil {
					logf("reload: scenario %s reloaded", sc.Source)
					last = files
					continue
				}
			}
		}
		if ctx.Err() != nil {
			return
		}
		logf("reload: keeping the previous templates: %v", err)
	}
}

func sameFiles(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
