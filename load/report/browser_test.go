package report_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/stack-tools/stack/load"
	"github.com/stack-tools/stack/load/pace"
	"github.com/stack-tools/stack/load/report"
	"github.com/stack-tools/stack/load/scenario"
	"github.com/stack-tools/stack/stacks/scenarios"
)

// chromium finds Debian's chromium (scripts/test installs it), or the one
// STACK_CHROMIUM names.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("STACK_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("chromium not found: install Debian's chromium package (scripts/test does), or set STACK_CHROMIUM=/path/to/chromium")
	return ""
}

// artifactDir is where browser tests leave their screenshots:
// STACK_TEST_ARTIFACTS, else a folder in the system's temporary directory.
func artifactDir(t *testing.T) string {
	dir := os.Getenv("STACK_TEST_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "stack-test-artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// realReport runs real load (a built-in scenario at a local server that
// fails some requests) and returns its report, with a run id as a stack's
// load step gives it.
func realReport(t *testing.T, seed uint64, run string) *load.Report {
	t.Helper()
	var mu sync.Mutex
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		fail := n%17 == 0
		mu.Unlock()
		if fail {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	sc, err := scenario.Resolve("", "sms-inbound", scenarios.Builtin())
	if err != nil {
		t.Fatal(err)
	}
	rep, err := load.Run(context.Background(), load.Config{Scenario: sc, Target: srv.URL, Requests: 600,
		Rate:    pace.Spec{Shape: "steps", Start: 100, Step: 100, Every: pace.Duration(time.Second), Max: 300},
		Options: scenario.Options{Seed: seed, Senders: 20}, Window: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Windows) < 2 || rep.Total.Responses == 0 {
		t.Fatalf("the run gave %d windows and %d responses: too little to chart", len(rep.Windows), rep.Total.Responses)
	}
	rep.Run = run
	return rep
}

// chartCheck is what the page's script finds for each chart.
type chartCheck struct {
	ID     string  `json:"id"`
	Width  float64 `json:"width"`
	Drawn  int     `json:"drawn"`  // series whose path has length and a box
	Series int     `json:"series"` // series in the chart
	Tips   int     `json:"tips"`   // points that show their value on hover
}

// The report opens in a real headless browser with no console error, every
// chart is as wide as the page and has drawn data; a screenshot is kept.
func TestReportInHeadlessChromium(t *testing.T) {
	bin := chromium(t)
	dir := t.TempDir()
	a, b := realReport(t, 1, "r-20261206T100000.000Z"), realReport(t, 2, "r-20261206T110000.000Z")
	pages := map[string]func(*os.File) error{
		"load-report.html":  func(f *os.File) error { return report.HTML(f, a) },
		"load-compare.html": func(f *os.File) error { return report.CompareHTML(f, a, b) },
	}
	for name, write := range pages {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := write(f); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin), chromedp.UserDataDir(filepath.Join(dir, "profile")),
		chromedp.Flag("headless", true), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.NoFirstRun, chromedp.WindowSize(1400, 900),
	}
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	for _, name := range []string{"load-report.html", "load-compare.html"} {
		t.Run(name, func(t *testing.T) { checkPage(t, actx, filepath.Join(dir, name)) })
	}
}

func checkPage(t *testing.T, actx context.Context, file string) {
	var mu sync.Mutex
	var problems []string
	listen := func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if e.Type == "error" || e.Type == "warning" || e.Type == "assert" {
				var args []string
				for _, a := range e.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				problems = append(problems, fmt.Sprintf("console %s: %s", e.Type, strings.Join(args, " ")))
			}
		case *runtime.EventExceptionThrown:
			problems = append(problems, "exception: "+e.ExceptionDetails.Text)
		case *cdplog.EventEntryAdded:
			if e.Entry.Level == "error" || e.Entry.Level == "warning" {
				problems = append(problems, fmt.Sprintf("browser log %s: %s %s", e.Entry.Level, e.Entry.Text, e.Entry.URL))
			}
		}
	}
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithListener(listen))
	defer cancel()
	if err := chromedp.Do(ctx); err != nil { // start the browser and its tab
		t.Fatalf("starting chromium: %v", err)
	}
	ctx, cancelT := context.WithTimeout(ctx, 2*time.Minute) // a stuck browser, not a speed bound
	defer cancelT()
	if err := chromedp.Do(ctx, chromedp.Navigate("file://"+file), chromedp.WaitReady("body")); err != nil {
		t.Fatalf("%s in chromium: %v", file, err)
	}
	pageWidth, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`document.documentElement.clientWidth`))
	if err != nil {
		t.Fatal(err)
	}
	charts, err := chromedp.Run(ctx, chromedp.Evaluate[[]chartCheck](`[...document.querySelectorAll("svg.chart")].map(svg => {
			const paths = [...svg.querySelectorAll("path.series")];
			const drawn = paths.filter(p => p.getTotalLength() > 0 && p.getBBox().width > 0).length;
			const tips = [...svg.querySelectorAll("circle.pt")].filter(c => (c.querySelector("title")?.textContent ?? "").match(/[0-9]/)).length;
			return {id: svg.dataset.chart, width: svg.getBoundingClientRect().width, drawn: drawn, series: paths.length, tips: tips};
		})`))
	if err != nil {
		t.Fatal(err)
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // quality 100: PNG
	if err != nil {
		t.Fatal(err)
	}
	shotFile := filepath.Join(artifactDir(t), strings.TrimSuffix(filepath.Base(file), ".html")+".png")
	if err := os.WriteFile(shotFile, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", shotFile)
	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		t.Errorf("%s: %s", filepath.Base(file), p)
	}
	if len(charts) != 5 {
		t.Fatalf("%s: %d charts, want 5: %+v", filepath.Base(file), len(charts), charts)
	}
	for _, c := range charts {
		if c.Drawn == 0 || c.Drawn < c.Series-1 {
			t.Errorf("%s: chart %s drew %d of its %d lines", filepath.Base(file), c.ID, c.Drawn, c.Series)
		}
		if c.Tips == 0 {
			t.Errorf("%s: chart %s has no point that shows its value on hover", filepath.Base(file), c.ID)
		}
		// Full width: the page's width less its margins and the chart's border.
		if c.Width < 0.9*pageWidth-80 {
			t.Errorf("%s: chart %s is %.0f px wide on a %.0f px page", filepath.Base(file), c.ID, c.Width, pageWidth)
		}
	}
}
