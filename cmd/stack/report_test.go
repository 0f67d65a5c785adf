package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every run of a load step keeps its report until down: stack report lists
// them, shows one, and compares two (a table, and an HTML page).
func TestReportKeepsEveryRunUntilDown(t *testing.T) {
	state, _ := loadStack(t, "runs")
	t.Setenv("STACK_STATE", state)
	if _, errOut, err := runRoot(t, "rerun-step", "runs", "load"); err != nil {
		t.Fatalf("rerun-step: %v\n%s", err, errOut)
	} else if !strings.Contains(errOut, "step load of stack \"runs\" re-applied (") || !strings.Contains(errOut, "load step load: passed") {
		t.Errorf("rerun-step's closing lines:\n%s", errOut)
	}
	out, _, err := runRoot(t, "report", "runs", "load", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var runs []runLine
	if err := json.Unmarshal([]byte(out), &runs); err != nil || len(runs) != 2 {
		t.Fatalf("want 2 runs (up and rerun-step), got %v:\n%s", err, out)
	}
	newest, oldest := runs[0], runs[1]
	if newest.Run <= oldest.Run || newest.Verdict != "passed" || newest.Sent != 20 {
		t.Errorf("runs, newest first: %+v", runs)
	}
	for _, r := range runs {
		if _, err := os.Stat(r.Report); err != nil {
			t.Errorf("run %s: its HTML report is not where the list says: %v", r.Run, err)
		}
	}
	out, _, err = runRoot(t, "report", "runs", "load")
	if err != nil || !strings.HasPrefix(out, "RUN ") || !strings.Contains(out, newest.Run) || !strings.Contains(out, "passed") {
		t.Errorf("report list (%v):\n%s", err, out)
	}
	out, _, err = runRoot(t, "report", "runs", "load", oldest.Run)
	if err != nil || !strings.Contains(out, "seed 3") || !strings.Contains(out, oldest.Run+"/load-report.html") {
		t.Errorf("report of one run (%v):\n%s", err, out)
	}
	page := filepath.Join(t.TempDir(), "cmp.html")
	out, errOut, err := runRoot(t, "report", "runs", "load", "--compare", oldest.Run, "--html", page)
	if err != nil {
		t.Fatalf("compare: %v\n%s", err, errOut)
	}
	if !strings.Contains(out, "A = "+newest.Run) || !strings.Contains(out, "B = "+oldest.Run) || !strings.Contains(out, "all") {
		t.Errorf("comparison table:\n%s", out)
	}
	if html, err := os.ReadFile(page); err != nil || !strings.Contains(string(html), oldest.Run) || !strings.Contains(string(html), newest.Run) {
		t.Errorf("comparison page (%v) does not name both runs", err)
	}
	_, _, err = runRoot(t, "report", "runs", "load", "--compare", "r-nosuch")
	wantUsage(t, "--compare r-nosuch", err, "no run \"r-nosuch\"")
	_, _, err = runRoot(t, "report", "runs", "nosuch")
	wantUsage(t, "step nosuch", err, "has no step \"nosuch\"")

	if _, errOut, err := runRoot(t, "down", "runs"); err != nil {
		t.Fatalf("down: %v\n%s", err, errOut)
	}
	if _, err := os.Stat(filepath.Dir(newest.Report)); !os.IsNotExist(err) {
		t.Errorf("down left the run's report folder: %v", err)
	}
}
