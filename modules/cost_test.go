package modules_test

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/stack-tools/stack/stack"
)

// Every AWS module declares its rough hourly cost per profile, and the
// figures add up to the totals docs/aws.md gives for the sms-inbound stack,
// so `stack list` and `status` show what the docs promise.
func TestAWSModulesDeclareTheirCost(t *testing.T) {
	totals := map[string]float64{}
	for _, name := range awsSteps(t) {
		dir := filepath.Join("aws", name)
		c, ok, err := stack.ReadModuleCost(dir)
		if err != nil {
			t.Errorf("%s: %v", dir, err)
			continue
		}
		if !ok {
			t.Errorf("%s has no %s: declare its rough hourly cost per profile (see docs/aws.md)", dir, stack.CostFile)
			continue
		}
		if c.Note == "" {
			t.Errorf("%s/%s: say in \"note\" what the figures count", dir, stack.CostFile)
		}
		if filepath.Base(dir) == "generator_fleet" {
			continue // not part of sms-inbound; sized by instance_count, not by profile
		}
		for _, p := range []string{"", "minimal", "production"} {
			v, ok := c.For(p)
			if !ok {
				t.Errorf("%s/%s declares no cost for profile %q", dir, stack.CostFile, p)
			}
			totals[p] += v
		}
	}
	doc, err := os.ReadFile("../docs/aws.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`\*\*total\*\*.*≈ \$([0-9.]+)/h.*≈ \$([0-9.]+)/h`).FindSubmatch(doc)
	if m == nil {
		t.Fatal("docs/aws.md has no total row with $/h figures")
	}
	for i, p := range []string{"minimal", "production"} {
		want, _ := strconv.ParseFloat(string(m[i+1]), 64)
		if got := totals[p]; math.Abs(got-want) > want*0.05 {
			t.Errorf("profile %s: modules declare $%.3f/h in total, docs/aws.md says $%v/h", p, got, want)
		}
	}
	if totals[""] != totals["minimal"] {
		t.Errorf("without a profile the modules make the minimal shape, but declare $%.3f/h instead of $%.3f/h", totals[""], totals["minimal"])
	}
	fmt.Fprintf(os.Stderr, "declared totals: %v\n", totals)
}
