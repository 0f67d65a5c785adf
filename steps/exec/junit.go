package exec

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Test statuses as JUnit XML gives them.
const (
	Passed  = "passed"
	Failed  = "failed"  // a <failure>: an assertion did not hold
	Errored = "error"   // an <error>: the test could not run to its end
	Skipped = "skipped" // a <skipped>
)

// Test is one test case's result.
type Test struct {
	Name    string  `json:"name"`
	Status  string  `json:"status"`
	Seconds float64 `json:"seconds,omitempty"`
	// Message is the first line of the failure or error, if any.
	Message string `json:"message,omitempty"`
}

// Results are the tests of one JUnit XML file, in its order.
type Results struct {
	Tests                           []Test `json:"tests"`
	Passed, Failed, Errors, Skipped int
}

// Failing lists the tests that failed or errored.
func (r *Results) Failing() []string {
	var names []string
	for _, t := range r.Tests {
		if t.Status == Failed || t.Status == Errored {
			names = append(names, t.Name)
		}
	}
	return names
}

type xmlSuite struct {
	Name   string     `xml:"name,attr"`
	Suites []xmlSuite `xml:"testsuite"`
	Cases  []xmlCase  `xml:"testcase"`
}

type xmlCase struct {
	Name      string  `xml:"name,attr"`
	ClassName string  `xml:"classname,attr"`
	Time      string  `xml:"time,attr"`
	Failure   *xmlMsg `xml:"failure"`
	Error     *xmlMsg `xml:"error"`
	Skipped   *xmlMsg `xml:"skipped"`
}

type xmlMsg struct {
	Message string `xml:"message,attr"`
	Text    string `xml:",chardata"`
}

// ParseJUnit reads JUnit XML: a <testsuites> root or a single <testsuite>,
// suites nested or not, as written by go-junit-report, gotestsum, pytest,
// Maven Surefire, Jest and most others. A test is named classname.name.
func ParseJUnit(b []byte) (*Results, error) {
	var root xmlSuite
	dec := xml.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&root); err != nil {
		return nil, fmt.Errorf("not JUnit XML: %w", err)
	}
	r := &Results{Tests: []Test{}}
	r.add(root)
	if len(r.Tests) == 0 && len(root.Suites) == 0 {
		return nil, errors.New("no <testsuite> or <testcase> in it")
	}
	return r, nil
}

func (r *Results) add(s xmlSuite) {
	for _, c := range s.Cases {
		t := Test{Name: c.Name, Status: Passed}
		if c.ClassName != "" {
			t.Name = c.ClassName + "." + c.Name
		}
		t.Seconds, _ = strconv.ParseFloat(c.Time, 64)
		switch {
		case c.Failure != nil:
			t.Status, t.Message = Failed, firstLine(c.Failure)
			r.Failed++
		case c.Error != nil:
			t.Status, t.Message = Errored, firstLine(c.Error)
			r.Errors++
		case c.Skipped != nil:
			t.Status = Skipped
			r.Skipped++
		default:
			r.Passed++
		}
		r.Tests = append(r.Tests, t)
	}
	for _, sub := range s.Suites {
		r.add(sub)
	}
}

func firstLine(m *xmlMsg) string {
	s := strings.TrimSpace(m.Message)
	if s == "" {
		s = strings.TrimSpace(m.Text)
	}
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
