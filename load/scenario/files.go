package scenario

import (
	"encoding/json"
	"maps"
	"testing/fstest"
)

// Files returns the scenario as the files of its folder (scenario.json and
// the templates), so it can be shipped to another process and read back with
// FromFiles.
func (sc *Scenario) Files() (map[string]string, error) {
	b, err := json.Marshal(sc)
	if err != nil {
		return nil, err
	}
	out := maps.Clone(sc.files)
	if out == nil {
		out = map[string]string{}
	}
	out[FileName] = string(b)
	return out, nil
}

// FromFiles reads a scenario from the files Files returned; source names it
// in errors.
func FromFiles(files map[string]string, source string) (*Scenario, error) {
	fsys := fstest.MapFS{}
	for name, text := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(text), Mode: 0o644}
	}
	return LoadFS(fsys, source)
}
