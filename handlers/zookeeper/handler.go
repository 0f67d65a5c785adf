// Package zookeeper is the "zookeeper" completion handler: it publishes a
// step's outputs as znodes, keeps them current when the step is re-run, and
// deletes exactly what it published on down.
//
// Every publish is one ZooKeeper multi-op transaction (all or nothing) that
// creates missing parents, writes only changed values, removes values no
// longer produced, and bumps a version node dependents can watch. Sensitive
// values get a digest ACL for the configured identity, and never reach the
// step's record.
package zookeeper

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stack-tools/stack/stack"
)

// Options say where ZooKeeper is and who the handler is.
type Options struct {
	// Hosts is a comma-separated list of host:port; empty means no ZooKeeper,
	// and Run skips.
	Hosts string
	// Auth is "user:password" for the digest scheme; sensitive values are
	// readable by this identity only.
	Auth string
	// AuthFile holds "user:password" (used when Auth is empty).
	AuthFile string
	// SessionTimeout is ZooKeeper's session timeout (default 10s).
	SessionTimeout time.Duration
	// RetryTimeout bounds how long connection losses are retried (default 30s).
	RetryTimeout time.Duration

	// invalid is a bad setting found by OptionsFromEnv, reported when the
	// handler is used.
	invalid error
}

// OptionsFromEnv fills Options from the --zookeeper flag value (hosts) and the
// environment: STACK_ZOOKEEPER when hosts is empty, STACK_ZOOKEEPER_AUTH,
// STACK_ZOOKEEPER_AUTH_FILE, and STACK_ZOOKEEPER_RETRY (a Go duration: how
// long to retry while ZooKeeper is unreachable).
func OptionsFromEnv(hosts string, getenv func(string) string) Options {
	if hosts == "" {
		hosts = getenv("STACK_ZOOKEEPER")
	}
	o := Options{Hosts: hosts, Auth: getenv("STACK_ZOOKEEPER_AUTH"), AuthFile: getenv("STACK_ZOOKEEPER_AUTH_FILE")}
	if v := getenv("STACK_ZOOKEEPER_RETRY"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			o.invalid = fmt.Errorf("STACK_ZOOKEEPER_RETRY=%q: use a positive Go duration such as 30s", v)
		}
		o.RetryTimeout = d
	}
	return o
}

// Handler is the zookeeper completion handler.
type Handler struct {
	opts Options
}

var _ stack.Handler = (*Handler)(nil)

// New returns a handler; problems with the options surface when it runs, so
// commands that never publish are not affected by them.
func New(o Options) *Handler {
	if o.SessionTimeout <= 0 {
		o.SessionTimeout = 10 * time.Second
	}
	if o.RetryTimeout <= 0 {
		o.RetryTimeout = 30 * time.Second
	}
	return &Handler{opts: o}
}

// Validate checks the handler's config before anything runs.
func (h *Handler) Validate(config json.RawMessage) error {
	_, err := parseConfig(config)
	return err
}

// Run publishes the step's values.
func (h *Handler) Run(ctx context.Context, run *stack.HandlerRun) (stack.HandlerResult, error) {
	prev, err := decodeRecord(run.Previous)
	if err != nil {
		return stack.HandlerResult{}, err
	}
	rec, err := h.publish(ctx, run, &prev)
	if err != nil {
		if _, skipped := stack.IsSkip(err); !skipped && !prev.empty() {
			// A failed run still owns what it owned before, and what a write of
			// unknown outcome may have made: hand that back so the step keeps it
			// for the rerun and for down.
			if b, merr := json.Marshal(prev); merr == nil {
				return stack.HandlerResult{Record: b}, err
			}
		}
		return stack.HandlerResult{}, err
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return stack.HandlerResult{}, err
	}
	return stack.HandlerResult{Record: b}, nil
}

// publish does Run's work; *prev follows the record stored before a write.
func (h *Handler) publish(ctx context.Context, run *stack.HandlerRun, prev *record) (record, error) {
	cfg, err := parseConfig(run.Config)
	if err != nil {
		return record{}, err
	}
	if h.opts.invalid != nil {
		return record{}, h.opts.invalid
	}
	hosts := h.opts.Hosts
	if strings.TrimSpace(hosts) == "" && !prev.empty() {
		// Values this stack published must stay current (and be removable), so
		// without a setting here the handler goes back where it published.
		hosts = prev.Hosts
		run.Progress("no --zookeeper given; using %s, where this step published before", hosts)
	}
	if strings.TrimSpace(hosts) == "" {
		return record{}, &stack.SkipError{Reason: "no ZooKeeper configured; set --zookeeper HOST:PORT or STACK_ZOOKEEPER to publish"}
	}
	servers, err := parseHosts(hosts)
	if err != nil {
		return record{}, err
	}
	creds, err := h.credentials()
	if err != nil {
		return record{}, err
	}
	t, err := resolveTarget(run, cfg, creds)
	if err != nil {
		return record{}, err
	}
	t.hosts, t.rewrite = hosts, run.Replace

	run.Progress("connecting to ZooKeeper at %s", t.hosts)
	s, err := dial(ctx, servers, t.hosts, creds, h.opts, run.Log)
	if err != nil {
		return record{}, err
	}
	defer s.close()
	rec, changed, err := s.apply(ctx, run, t, prev, "publish")
	if err != nil {
		return record{}, err
	}
	if len(changed) == 0 {
		run.Progress("ZooKeeper values under %s already current", t.root)
	} else {
		run.Progress("published %d ZooKeeper change(s) under %s", len(changed), t.root)
	}
	return rec, nil
}

// Teardown deletes what the record says this stack published or created.
func (h *Handler) Teardown(ctx context.Context, run *stack.HandlerRun, raw json.RawMessage) error {
	prev, err := decodeRecord(raw)
	if err != nil {
		return err
	}
	if prev.empty() {
		return nil
	}
	if h.opts.invalid != nil {
		return h.opts.invalid
	}
	// Delete from the configured ZooKeeper; without one, from where the
	// record says the values were published.
	hosts := h.opts.Hosts
	if strings.TrimSpace(hosts) == "" {
		hosts = prev.Hosts
	}
	if strings.TrimSpace(hosts) == "" {
		return errors.New("zookeeper teardown: the step published znodes but neither --zookeeper/STACK_ZOOKEEPER nor its record names the servers; set --zookeeper HOST:PORT")
	}
	servers, err := parseHosts(hosts)
	if err != nil {
		return err
	}
	creds, err := h.credentials()
	if err != nil {
		return err
	}
	run.Progress("removing this stack's znodes from ZooKeeper at %s", hosts)
	s, err := dial(ctx, servers, hosts, creds, h.opts, run.Log)
	if err != nil {
		return err
	}
	defer s.close()
	_, _, err = s.apply(ctx, run, target{hosts: hosts, root: prev.Root}, &prev, "teardown")
	return err
}

// apply reads the tree, plans and writes in one multi, re-planning after
// connection losses and concurrent changes until the retry deadline.
func (s *session) apply(ctx context.Context, run *stack.HandlerRun, t target, prev *record, what string) (record, []string, error) {
	backoff := 100 * time.Millisecond
	conflicts := 0
	var lastErr error
	for {
		rec, changed, err := s.attempt(run, t, prev, what)
		if err == nil {
			return rec, changed, nil
		}
		lastErr = err
		switch {
		case ctx.Err() != nil:
			return record{}, nil, s.explain(ctx, err, what)
		case conflict(err) && conflicts < 3:
			conflicts++
			fmt.Fprintf(run.Log, "zookeeper: %s: the tree changed while writing (%v); reading it again\n", what, err)
			continue
		case !transient(err):
			return record{}, nil, s.explain(ctx, err, what)
		case time.Now().After(s.deadline):
			return record{}, nil, s.explain(ctx, lastErr, what)
		}
		fmt.Fprintf(run.Log, "zookeeper: %s: %v; retrying in %s\n", what, err, backoff)
		sleep(ctx, backoff)
		backoff = min(2*backoff, 2*time.Second)
		if err := s.waitSession(ctx); err != nil {
			if errors.Is(err, errNoSession) {
				return record{}, nil, unreachable(s.hosts, s.retry, lastErr)
			}
			return record{}, nil, s.explain(ctx, err, what)
		}
	}
}

// attempt is one read-compare-write round. It moves *prev to the pending record
// once that is stored, so a retry after an unknown outcome knows what it owns.
func (s *session) attempt(run *stack.HandlerRun, t target, prev *record, what string) (record, []string, error) {
	state, err := s.read(t.paths(*prev))
	if err != nil {
		return record{}, nil, err
	}
	p, err := newTxn(t, *prev, state)
	if err != nil {
		return record{}, nil, err
	}
	for _, w := range p.warnings {
		fmt.Fprintf(run.Log, "zookeeper: %s: %s\n", what, w)
	}
	if len(p.ops) == 0 {
		return p.record, nil, nil
	}
	before := *prev
	pending := mergePending(*prev, p.record)
	if b, err := json.Marshal(pending); err != nil {
		return record{}, nil, err
	} else if err := run.Update(b); err != nil {
		return record{}, nil, fmt.Errorf("zookeeper %s: store the pending record before writing: %w", what, err)
	}
	*prev = pending
	run.Progress("writing %d ZooKeeper operation(s) in one transaction (%s)", len(p.ops), what)
	res, err := s.multi(&p)
	if err != nil && !transient(err) {
		// ZooKeeper answered: nothing was written, so the stack owns no more
		// than before. Keeping the pending claim would let a node another
		// client just created pass for ours.
		if b, merr := json.Marshal(before); merr == nil {
			if uerr := run.Update(b); uerr != nil {
				fmt.Fprintf(run.Log, "zookeeper: %s: restore the record after a refused write: %v\n", what, uerr)
			}
		}
		*prev = before
	}
	if err != nil {
		return record{}, nil, err
	}
	for _, c := range p.changed {
		fmt.Fprintf(run.Log, "zookeeper: %s: %s\n", what, c)
	}
	return p.committed(res), p.changed, nil
}

// resolveTarget expands references in the config and checks the result.
func resolveTarget(run *stack.HandlerRun, cfg config, creds *credentials) (target, error) {
	t := target{nodes: map[string]wantNode{}}
	root, err := resolvePath(run, "root", cfg.Root, true)
	if err != nil {
		return t, err
	}
	t.root = root
	marked := map[string]bool{}
	for _, p := range cfg.Sensitive {
		marked[p] = true
	}
	for _, key := range slices.Sorted(maps.Keys(cfg.Publish)) {
		field := fmt.Sprintf("publish[%q]", key)
		rel, err := resolvePath(run, field, key, false)
		if err != nil {
			return t, err
		}
		full := joinPath(root, rel)
		if err := checkResolvedPath(field, full); err != nil {
			return t, err
		}
		if _, dup := t.nodes[full]; dup {
			return t, fmt.Errorf("zookeeper handler: %s resolves to %s, which another publish entry also writes", field, full)
		}
		raw, marks, _ := splitValue(cfg.Publish[key])
		v, sens, err := run.Resolve(raw)
		if err != nil {
			return t, fmt.Errorf("zookeeper handler: %s: %w", field, err)
		}
		data, err := encodeValue(v)
		if err != nil {
			return t, fmt.Errorf("zookeeper handler: %s: %w", field, err)
		}
		w := wantNode{data: data, sensitive: sens || marks || marked[key]}
		if w.sensitive && creds == nil {
			return t, fmt.Errorf("zookeeper handler: %s is sensitive, so it is published with a digest ACL, but no credentials are set: set STACK_ZOOKEEPER_AUTH=user:password (or STACK_ZOOKEEPER_AUTH_FILE) to the identity the application reads it with", field)
		}
		t.nodes[full] = w
	}
	if creds != nil {
		t.sensitiveACL = creds.acl()
	}
	vn := "/" + run.Step + "/.version"
	if cfg.VersionNode != "" {
		if vn, err = resolvePath(run, "version_node", cfg.VersionNode, false); err != nil {
			return t, err
		}
	}
	t.versionPath = joinPath(root, vn)
	if err := checkResolvedPath("version_node", t.versionPath); err != nil {
		return t, err
	}
	if _, clash := t.nodes[t.versionPath]; clash {
		return t, fmt.Errorf("zookeeper handler: the version node %s is also a publish path; set \"version_node\" to another path", t.versionPath)
	}
	return t, nil
}

// resolvePath expands a path. Paths are stored in the record, so they must not
// contain sensitive values.
func resolvePath(run *stack.HandlerRun, field, p string, isRoot bool) (string, error) {
	v, sens, err := run.Resolve(p)
	if err != nil {
		return "", fmt.Errorf("zookeeper handler: %s: %w", field, err)
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("zookeeper handler: %s %q resolves to %T, not a path string", field, p, v)
	}
	if sens {
		return "", fmt.Errorf("zookeeper handler: %s %q uses a sensitive value; znode paths are stored in the step's record, so only values may be sensitive", field, p)
	}
	if err := pathProblem(s, isRoot); err != nil {
		return "", fmt.Errorf("zookeeper handler: %s %q resolves to %q, which %w", field, p, s, err)
	}
	return s, nil
}

func checkResolvedPath(field, full string) error {
	if full == "/zookeeper" || strings.HasPrefix(full, "/zookeeper/") {
		return fmt.Errorf("zookeeper handler: %s is %s, inside /zookeeper, which ZooKeeper reserves for itself; change \"root\"", field, full)
	}
	return nil
}

// encodeValue turns a resolved value into znode data: strings as they are,
// anything else as JSON.
func encodeValue(v any) ([]byte, error) {
	switch x := v.(type) {
	case string:
		return []byte(x), nil
	case nil:
		return nil, nil
	}
	return json.Marshal(v)
}

func parseHosts(hosts string) ([]string, error) {
	var out []string
	for _, h := range strings.Split(hosts, ",") {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		if strings.Contains(h, "/") {
			return nil, fmt.Errorf("--zookeeper %q: give host:port[,host:port...] without a chroot path; the handler's \"root\" sets where values go", hosts)
		}
		out = append(out, h)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--zookeeper %q names no server; give host:port[,host:port...]", hosts)
	}
	return out, nil
}

// credentials is the digest identity for sensitive values.
type credentials struct {
	user, password string
}

func (c *credentials) acl() []zk.ACL { return zk.DigestACL(zk.PermAll, c.user, c.password) }

// credentials reads Auth or AuthFile. The secret is never put in an error.
func (h *Handler) credentials() (*credentials, error) {
	text, source := h.opts.Auth, "STACK_ZOOKEEPER_AUTH"
	if text == "" && h.opts.AuthFile != "" {
		b, err := os.ReadFile(h.opts.AuthFile)
		if err != nil {
			return nil, fmt.Errorf("zookeeper credentials: %w; the auth file must hold user:password", err)
		}
		text, source = strings.TrimSpace(string(b)), "the auth file "+h.opts.AuthFile
	}
	if text == "" {
		return nil, nil
	}
	user, password, ok := strings.Cut(text, ":")
	if !ok || user == "" || password == "" {
		return nil, fmt.Errorf("zookeeper credentials from %s must be user:password (digest scheme)", source)
	}
	return &credentials{user: user, password: password}, nil
}

// OutputNames implements stack.HandlerOutputs: publishing adds no outputs, so
// validation can still check references to the step's outputs.
func (h *Handler) OutputNames(json.RawMessage) []string { return nil }
