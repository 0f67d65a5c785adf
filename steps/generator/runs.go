package generator

import (
	"bytes"
	"context"
	"fmt"
	"path"
	"time"

	"github.com/stack-tools/stack/load"
	"github.com/stack-tools/stack/load/report"
	"github.com/stack-tools/stack/stack"
)

// Every run's reports are kept, under RunsFolder/RUN/, so runs can be listed
// and compared (stack report) until the stack is torn down; the latest run's
// are also at the step's load-report.json and load-report.html.
const (
	RunsFolder = "runs"
	ReportJSON = "load-report.json"
	ReportHTML = "load-report.html"
)

// RunID names a run by the time it started (UTC, to the millisecond), so
// ids sort in the order the runs were made.
func RunID(started time.Time) string {
	return "r-" + started.UTC().Format("20060102T150405.000Z")
}

// storeReports stores a run's JSON and HTML reports under its run id and as
// the step's latest, and returns where the run's own are.
func storeReports(ctx context.Context, run *stack.StepRun, rep *load.Report) (jsonAt, htmlAt string, err error) {
	rep.Run = RunID(rep.Started)
	var js, page bytes.Buffer
	if err := report.JSON(&js, rep); err != nil {
		return "", "", err
	}
	if err := report.HTML(&page, rep); err != nil {
		return "", "", err
	}
	put := func(name string, data []byte) (string, error) {
		at, err := run.Artifacts.PutArtifact(ctx, name, data)
		if err != nil {
			return "", fmt.Errorf("generator step: storing %s: %w", name, err)
		}
		return at, nil
	}
	dir := path.Join(RunsFolder, rep.Run)
	if jsonAt, err = put(path.Join(dir, ReportJSON), js.Bytes()); err != nil {
		return "", "", err
	}
	if htmlAt, err = put(path.Join(dir, ReportHTML), page.Bytes()); err != nil {
		return "", "", err
	}
	if _, err := put(ReportJSON, js.Bytes()); err != nil {
		return "", "", err
	}
	latest, err := put(ReportHTML, page.Bytes())
	if err != nil {
		return "", "", err
	}
	fmt.Fprintf(run.Log, "load: run %s\nload: report %s\nload: report %s\nload: latest report %s\n", rep.Run, jsonAt, htmlAt, latest)
	return jsonAt, htmlAt, nil
}
