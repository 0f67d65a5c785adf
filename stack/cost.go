package stack

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// CostFile is the file in a module folder that declares the module's rough
// hourly cost per profile, for example
//
//	{"per_hour": {"minimal": 0.05, "production": 0.15, "default": 0.05},
//	 "note": "1 NAT gateway + its IP; 3 in production"}
//
// "default" is the cost with no profile. The engine records the figure when it
// applies the step, so `stack list` and `status` can show what a stack costs
// from any workstation without reading modules.
const CostFile = "stack-cost.json"

// ModuleCost is what a CostFile declares.
type ModuleCost struct {
	PerHour map[string]float64 `json:"per_hour"`
	Note    string             `json:"note,omitempty"`
}

// ReadModuleCost reads a module's CostFile; ok is false when it has none.
func ReadModuleCost(dir string) (c ModuleCost, ok bool, err error) {
	b, err := os.ReadFile(filepath.Join(dir, CostFile))
	if errors.Is(err, fs.ErrNotExist) {
		return c, false, nil
	}
	if err != nil {
		return c, false, err
	}
	if err := DecodeStrict(b, &c); err != nil {
		return c, false, fmt.Errorf("%s: %w (expected {\"per_hour\": {\"PROFILE\": DOLLARS}, \"note\": \"...\"})", filepath.Join(dir, CostFile), err)
	}
	for p, v := range c.PerHour {
		if v < 0 {
			return c, false, fmt.Errorf("%s: per_hour.%s is negative", filepath.Join(dir, CostFile), p)
		}
	}
	return c, true, nil
}

// For returns the hourly cost under a profile ("" is "default").
func (c ModuleCost) For(profile string) (float64, bool) {
	if profile == "" {
		profile = "default"
	}
	v, ok := c.PerHour[profile]
	return v, ok
}
