// Package e2e traces every message of a load run to what arrived at the far
// end of the pipeline: probes (package probe) record arrivals, a Tracker pulls
// them, finds each arrival's message by its run-unique id (or by its sender)
// and reports, per message type and window, what arrived, what was lost or
// duplicated, and the end-to-end latency from each message's intended send
// time.
package e2e

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"regexp/syntax"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/stack-tools/stack/load/pace"
	"github.com/stack-tools/stack/load/probe"
)

// Config is a generator's "e2e" field.
type Config struct {
	Probes []Probe `json:"probes"`
	// Expect is how many arrivals each message type causes (across all
	// probes); types not named cause none.
	Expect map[string]int `json:"expect"`
	// Wait is how long to wait for stragglers after the last send (default 30s).
	Wait pace.Duration `json:"wait,omitempty"`
	// Poll is how often the probes are pulled (default 500ms).
	Poll pace.Duration `json:"poll,omitempty"`
	// MaxE2ELatency votes a window unhealthy when a message is older than
	// this and has not arrived, or arrived later than this; MaxLost votes
	// once more arrivals than this are lost, and fails the run at its end.
	// Both come from the run's stop policy.
	MaxE2ELatency pace.Duration `json:"-"`
	MaxLost       *int          `json:"-"`
}

// Probe is one probe the run pulls arrivals from.
type Probe struct {
	// Name names the probe in reports (default: its URL's host).
	Name string `json:"name,omitempty"`
	// URL is the probe's HTTP address (`stack dumpster --journal` serves
	// the pull endpoint there, for its SMTP and SQS sides too).
	URL string `json:"url"`
	// Token is the probe's bearer token, given as a reference to a
	// sensitive output (such as "${steps.mail.outputs.probe_token}"); without
	// it, the variable TokenEnv names (default STACK_PROBE_TOKEN) holds it.
	// Never printed, and never handed to a fleet's workers through ZooKeeper
	// (they read TokenEnv).
	Token    string `json:"token,omitempty"`
	TokenEnv string `json:"token_env,omitempty"`
	// Match are the rules that find a message in an arrival, tried in order.
	Match []Rule `json:"match"`
}

// Rule finds one value in an arrival: the regexp's first group (or whole
// match) in the body, a JSON pointer into the body, a form field of the body,
// or a header (HTTP header, mail header, SQS message attribute). By says what
// the value is: the message id (default), or the sender's phone or email
// ("sender.phone", "sender.email") for replies that do not carry the id.
type Rule struct {
	Regexp string `json:"regexp,omitempty"`
	JSON   string `json:"json,omitempty"`
	Form   string `json:"form,omitempty"`
	Header string `json:"header,omitempty"`
	By     string `json:"by,omitempty"`
}

// Check validates c against the scenario's types (in order) and a sample id
// and sample sender phone/email, naming the field at fault.
func (c *Config) Check(types []string, sample map[string]string) error {
	if len(c.Probes) == 0 {
		return errors.New("e2e.probes: list at least one probe ({\"url\": \"http://127.0.0.1:9000\", \"match\": [{\"header\": \"X-Stack-Id\"}]})")
	}
	names := map[string]bool{}
	for i := range c.Probes {
		p := &c.Probes[i]
		where := fmt.Sprintf("e2e.probes[%d]", i)
		u, err := url.Parse(p.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%s.url %q: want the probe's http(s) address, such as http://127.0.0.1:9000", where, p.URL)
		}
		if p.Name == "" {
			p.Name = u.Host
		}
		if names[p.Name] {
			return fmt.Errorf("%s.name: %q names two probes; give each its own name", where, p.Name)
		}
		names[p.Name] = true
		if len(p.Match) == 0 {
			return fmt.Errorf("%s.match: give at least one rule, such as {\"header\": \"X-Stack-Id\"} or {\"regexp\": \"ref=(\\\\S+)\"}", where)
		}
		for j, r := range p.Match {
			if _, err := r.compile(sample); err != nil {
				return fmt.Errorf("%s.match[%d]: %w", where, j, err)
			}
		}
	}
	for t, n := range c.Expect {
		if !slices.Contains(types, t) {
			sort.Strings(types)
			return fmt.Errorf("e2e.expect: the scenario has no message type %q (types: %s)", t, strings.Join(types, ", "))
		}
		if n < 0 || n > 250 {
			return fmt.Errorf("e2e.expect.%s: want 0..250 arrivals per message, got %d", t, n)
		}
	}
	if c.Wait < 0 || c.Poll < 0 || c.MaxE2ELatency < 0 || (c.MaxLost != nil && *c.MaxLost < 0) {
		return errors.New("e2e: wait, poll, max_e2e_latency and max_lost must not be negative")
	}
	if c.Wait == 0 {
		c.Wait = pace.Duration(30 * time.Second)
	}
	if c.Poll == 0 {
		c.Poll = pace.Duration(500 * time.Millisecond)
	}
	return nil
}

// token reads probe p's bearer token from the environment.
func (p *Probe) token() string {
	if p.Token != "" {
		return p.Token
	}
	env := p.TokenEnv
	if env == "" {
		env = probe.TokenEnv
	}
	return os.Getenv(env)
}

// WithoutTokens is c with the probes' tokens left out (for plans stored
// where others can read them).
func (c *Config) WithoutTokens() *Config {
	out := *c
	out.Probes = make([]Probe, len(c.Probes))
	for i, p := range c.Probes {
		p.Token = ""
		out.Probes[i] = p
	}
	return &out
}

// compiled is a rule ready to apply.
type compiled struct {
	Rule
	re *regexp.Regexp
}

// compile checks r and proves it can match: a regexp whose group cannot
// match the sample value of its By (an id of the run's format, a phone
// number, an email) never will, and is refused.
func (r Rule) compile(sample map[string]string) (compiled, error) {
	c := compiled{Rule: r}
	n := 0
	for _, s := range []string{r.Regexp, r.JSON, r.Form, r.Header} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		return c, errors.New("give exactly one of \"regexp\", \"json\", \"form\" or \"header\"")
	}
	switch r.By {
	case "", "id", "sender.phone", "sender.email":
	default:
		return c, fmt.Errorf("by: %q: use id (default), sender.phone or sender.email", r.By)
	}
	if r.JSON != "" && !strings.HasPrefix(r.JSON, "/") {
		return c, fmt.Errorf("json: %q is not a JSON pointer: it starts with / (such as /data/message_id)", r.JSON)
	}
	if r.Regexp == "" {
		return c, nil
	}
	re, err := regexp.Compile(r.Regexp)
	if err != nil {
		return c, fmt.Errorf("regexp: %w", err)
	}
	c.re = re
	want := sample[r.by()]
	if want == "" {
		return c, nil
	}
	if !groupMatches(r.Regexp, re.NumSubexp() > 0, want) {
		what := map[string]string{"id": "a message id of this scenario", "sender.phone": "a sender's phone number", "sender.email": "a sender's email address"}[r.by()]
		return c, fmt.Errorf("regexp %q can never match: its first group (or the whole pattern) does not match %s such as %q", r.Regexp, what, want)
	}
	return c, nil
}

func (r Rule) by() string {
	if r.By == "" {
		return "id"
	}
	return r.By
}

// groupMatches says whether the first capture group of pattern (the whole
// pattern without one) matches all of value.
func groupMatches(pattern string, hasGroup bool, value string) bool {
	sub := pattern
	if hasGroup {
		re, err := syntax.Parse(pattern, syntax.Perl)
		if err != nil {
			return false
		}
		if g := firstGroup(re); g != nil {
			sub = g.String()
		}
	} else if m := regexp.MustCompile(pattern).FindString(value); m != "" {
		return true // an anchored or partial pattern: it matches inside
	}
	ok, err := regexp.MatchString(`^(?:`+sub+`)$`, value)
	return err == nil && ok
}

func firstGroup(re *syntax.Regexp) *syntax.Regexp {
	if re.Op == syntax.OpCapture && re.Cap == 1 {
		return re.Sub[0]
	}
	for _, s := range re.Sub {
		if g := firstGroup(s); g != nil {
			return g
		}
	}
	return nil
}
