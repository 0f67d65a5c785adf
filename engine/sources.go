package engine

import (
	"context"
	"os"
	"path/filepath"

	"github.com/stack-tools/stack/definition"
	"github.com/stack-tools/stack/internal/modsource"
)

// fetch is the GraphOptions.Fetch of this engine: remote module sources go
// to CacheDir/sources, each fetched once per command.
func (e *Engine) fetch(ctx context.Context) func(string) (string, error) {
	e.sourcesOnce.Do(func() {
		if e.Sources == nil {
			dir := e.CacheDir
			if dir == "" {
				dir = filepath.Join(os.TempDir(), "stack-cache")
			}
			e.Sources = &modsource.Fetcher{Dir: filepath.Join(dir, "sources"), Getters: modsource.Getters()}
		}
	})
	return func(source string) (string, error) {
		f, err := e.Sources.Fetch(ctx, source)
		if err == nil && f.Revision != "" {
			e.revisions.Store(f.Dir, f.Revision)
		}
		return f.Dir, err
	}
}

// moduleRevision is the commit the git source fetched into dir resolved to
// in this command, or "".
func (e *Engine) moduleRevision(dir string) string {
	rev, _ := e.revisions.Load(dir)
	s, _ := rev.(string)
	return s
}

// graph validates def with this engine's registry and module fetcher.
func (e *Engine) graph(ctx context.Context, def *definition.Definition, opts definition.GraphOptions) (*definition.Graph, error) {
	opts.Fetch = e.fetch(ctx)
	return definition.NewGraph(def, e.Registry, opts)
}
