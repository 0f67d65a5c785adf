package generator

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/stack-tools/stack/load"
	"github.com/stack-tools/stack/load/scenario"
	"github.com/stack-tools/stack/load/scenario/s3scenario"
)

// maxTargetsFile bounds a targets file.
const maxTargetsFile = 256 << 20

// checkTargets validates "targets_file" and "targets_loop": recorded
// requests replace the scenario and the target.
func (c *Config) checkTargets() error {
	switch {
	case c.TargetsFile == "":
		if c.TargetsLoop {
			return errors.New("\"targets_loop\" needs \"targets_file\"")
		}
		return nil
	case c.Scenario != "" || c.Target != "":
		return errors.New("\"targets_file\" replays recorded requests: drop \"scenario\" and \"target\"")
	case c.Workers != nil:
		return errors.New("\"targets_file\" is not available with \"workers\" yet")
	case c.Forever && !c.TargetsLoop:
		return errors.New("\"duration\": \"forever\" with \"targets_file\" needs \"targets_loop\": true")
	case c.TargetsLoop && c.Duration == 0 && c.Requests == 0 && !c.Forever && !c.refs["duration"] && !c.refs["requests"]:
		return errors.New("\"targets_loop\" needs \"duration\" and/or \"requests\", so the load ends by itself")
	}
	return nil
}

// once says the run ends after one pass over its targets file.
func (c *Config) once() bool { return c.TargetsFile != "" && !c.TargetsLoop }

// source is what the step sends: its scenario, or the requests of its
// targets file (then targets is set and sc only names the file).
func (c *Config) source(ctx context.Context, dir string) (sc *scenario.Scenario, targets *load.Targets, err error) {
	if c.TargetsFile == "" {
		sc, err = Resolve(ctx, dir, c.Scenario)
		return sc, nil, err
	}
	targets, err = ReadTargetsFile(ctx, dir, c.TargetsFile)
	if err != nil {
		return nil, nil, err
	}
	targets.Loop = c.TargetsLoop
	return &scenario.Scenario{Name: "targets file " + c.TargetsFile, Source: c.TargetsFile}, targets, nil
}

// ReadTargetsFile reads a targets file, relative to dir or s3://BUCKET/KEY.
func ReadTargetsFile(ctx context.Context, dir, file string) (*load.Targets, error) {
	var data []byte
	var err error
	path := file
	if s3scenario.Is(file) {
		data, err = s3scenario.ReadObject(ctx, file, maxTargetsFile)
	} else {
		if !filepath.IsAbs(path) {
			path = filepath.Join(dir, path)
		}
		data, err = readLimited(path)
	}
	if err != nil {
		return nil, fmt.Errorf("targets_file: %w", err)
	}
	t, err := load.ReadTargets(data, file, filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("targets_file %w", err)
	}
	return t, nil
}

// validateTargetsFile reads a literal local targets file at validation, so
// its bad lines stop `up` before anything runs.
func validateTargetsFile(dir, file string) error {
	if file == "" || hasRef(file) || s3scenario.Is(file) {
		return nil
	}
	_, err := ReadTargetsFile(context.Background(), dir, file)
	return err
}
