package load

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/stack-tools/stack/load/scenario"
)

// Targets are recorded requests to replay on the open-model schedule
// (--targets-file): Vegeta's http format or its JSON lines.
type Targets struct {
	Name string
	List []vegeta.Target
	// Loop replays the list again and again until the run's duration or
	// request count; otherwise the run ends after one pass.
	Loop bool
}

// maxTypes bounds the message types a targets file is reported under (one
// per method and path); requests past it count as "METHOD other".
const maxTypes = 50

// maxTargetProblems bounds how many bad lines one error lists.
const maxTargetProblems = 10

var httpTargetStart = regexp.MustCompile(`^[A-Z]+\s+\S+`)

// ReadTargets reads a targets file: JSON lines (each Vegeta's JSON target:
// {"method": "POST", "url": "...", "header": {...}, "body": "BASE64"}) when
// its first line starts with "{", else Vegeta's http format ("POST URL",
// then "Header: value" lines and "@body-file", relative to dir). Every
// request is decoded by Vegeta's own targeters; bad ones are named by line.
func ReadTargets(data []byte, name, dir string) (*Targets, error) {
	blocks := splitTargets(string(data), dir)
	if len(blocks) == 0 {
		return nil, fmt.Errorf("%s: no targets: want JSON lines ({\"method\": \"GET\", \"url\": \"http://...\"}) or Vegeta's http format (GET http://...)", name)
	}
	t := &Targets{Name: name}
	var problems []string
	for _, b := range blocks {
		var tgt vegeta.Target
		var err error
		if b.json {
			err = vegeta.NewJSONTargeter(strings.NewReader(b.text), nil, nil)(&tgt)
		} else {
			err = vegeta.NewHTTPTargeter(strings.NewReader(b.text), nil, nil)(&tgt)
		}
		if err == nil {
			err = checkTarget(&tgt)
		}
		if err != nil {
			problems = append(problems, fmt.Sprintf("line %d: %v", b.line, err))
			continue
		}
		t.List = append(t.List, tgt)
	}
	if len(problems) > 0 {
		more := ""
		if len(problems) > maxTargetProblems {
			more = fmt.Sprintf("\n  ... and %d more", len(problems)-maxTargetProblems)
			problems = problems[:maxTargetProblems]
		}
		return nil, fmt.Errorf("%s: %d bad targets; fix them and run again:\n  %s%s", name, len(problems), strings.Join(problems, "\n  "), more)
	}
	return t, nil
}

type targetBlock struct {
	line int
	text string
	json bool
}

// splitTargets cuts a file into one block per request, with the line each
// starts on. In the http format a request starts at a "METHOD URL" line;
// "@file" bodies are made absolute (relative to dir).
func splitTargets(data, dir string) []targetBlock {
	var blocks []targetBlock
	lines := strings.Split(strings.ReplaceAll(data, "\r\n", "\n"), "\n")
	jsonLines := false
	for i, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") || strings.HasPrefix(l, "//") {
			continue
		}
		if len(blocks) == 0 {
			jsonLines = strings.HasPrefix(l, "{")
		}
		switch {
		case jsonLines:
			blocks = append(blocks, targetBlock{line: i + 1, text: l + "\n", json: true})
		case httpTargetStart.MatchString(l) || len(blocks) == 0:
			blocks = append(blocks, targetBlock{line: i + 1, text: l + "\n"})
		default:
			if strings.HasPrefix(l, "@") && !filepath.IsAbs(l[1:]) {
				l = "@" + filepath.Join(dir, l[1:])
			}
			blocks[len(blocks)-1].text += l + "\n"
		}
	}
	return blocks
}

func checkTarget(t *vegeta.Target) error {
	u, err := url.Parse(t.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("url %q: want an absolute http:// or https:// URL", t.URL)
	}
	if t.Method == "" {
		return errors.New("no method")
	}
	return nil
}

// UseTargets makes c replay t instead of a scenario: the report has one
// message type per method and path. Without Loop the run ends after one
// pass (Requests is capped at the number of targets).
func (c *Config) UseTargets(t *Targets) {
	c.Canned = t
	c.Scenario = &scenario.Scenario{Name: "targets file " + t.Name}
	c.Target = t.Name
	n := uint64(len(t.List))
	if !t.Loop && (c.Requests == 0 || c.Requests > n) {
		c.Requests = n
	}
}

// generator is the source of the run's messages: the scenario's templates,
// or the targets file's requests.
func (c *Config) generator() (*scenario.Generator, error) {
	if c.Canned == nil {
		return scenario.NewGenerator(c.Scenario, generatorTarget(c.Target), c.Options)
	}
	var types []scenario.RequestType
	index := map[string]int{}
	reqType := make([]int, len(c.Canned.List))
	bodies := make([][]byte, len(c.Canned.List))
	for i, t := range c.Canned.List {
		u, _ := url.Parse(t.URL)
		name := t.Method + " " + u.Path
		if _, ok := index[name]; !ok && len(types) >= maxTypes {
			name = t.Method + " other"
		}
		k, ok := index[name]
		if !ok {
			k = len(types)
			index[name] = k
			types = append(types, scenario.RequestType{Name: name, Method: t.Method, URL: u})
		}
		reqType[i], bodies[i] = k, t.Body
	}
	return scenario.Canned(types, reqType, bodies), nil
}

// cannedSender sends each message as the recorded request it replays.
type cannedSender struct {
	client  *http.Client
	targets []vegeta.Target
}

func newCannedSenders(c Config) func() sender {
	client := &http.Client{Transport: newStdTransport(c.MaxWorkers, c.Insecure, c.Timeout),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return func() sender { return &cannedSender{client: client, targets: c.Canned.List} }
}

func (s *cannedSender) close()                          {}
func (s *cannedSender) warm(context.Context, time.Time) {}

func (s *cannedSender) send(ctx context.Context, m *scenario.Message, deadline time.Time) (int, int64, error) {
	t := &s.targets[m.Target]
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, t.Method, t.URL, bytes.NewReader(m.Body))
	if err != nil {
		return 0, 0, err
	}
	req.Header = t.Header.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", "stack-load")
	}
	if host := req.Header.Get("Host"); host != "" {
		req.Host = host
	}
	resp, err := s.client.Do(req)
	if err != nil {
		var ue interface{ Unwrap() error }
		if errors.As(err, &ue) && ue.Unwrap() != nil {
			err = ue.Unwrap()
		}
		return 0, 0, err
	}
	n, _ := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, n, nil
}
