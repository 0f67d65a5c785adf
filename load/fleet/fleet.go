// Package fleet splits one load run among several `stack load-worker`
// processes that coordinate through ZooKeeper, with ZooKeeper's own recipes:
// workers register as ephemeral sequential nodes (a worker that dies leaves
// the group by itself), the coordinator writes the run's plan, the workers
// meet at a barrier and start together, and each writes its results back for
// the coordinator to merge into one report.
//
// Layout, under Root (default /stack/load) and the group's name:
//
//	GROUP/workers/_c_GUID-w-NNNNNNNNNN   ephemeral sequential: one per worker (JSON: host, pid, metrics)
//	GROUP/runs/r-UTCTIME                 one per run; data: the plan (JSON)
//	   ready/WORKER                      ephemeral: the worker holds the plan, connections open (barrier entry)
//	   start                             the barrier: written once every share is ready (JSON: start time, parts in)
//	   stop                              written by the first share whose stop vote ends it: every share stops
//	   progress/WORKER                   the worker's totals, updated every window
//	   results/WORKER-NNNN               the worker's result (JSON, in chunks of at most 512 KiB)
//	   done/WORKER                       number of result chunks: the result is complete
//
// The coordinator deletes the run's nodes once it has merged the report.
package fleet

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/stack-tools/stack/load"
	"github.com/stack-tools/stack/load/e2e"
	"github.com/stack-tools/stack/load/pace"
	"github.com/stack-tools/stack/load/scenario"
)

// DefaultRoot is where groups live unless told otherwise.
const DefaultRoot = "/stack/load"

// Conn is what both sides need to reach the group.
type Conn struct {
	// Servers is the ZooKeeper connect string: host:port,host:port...
	Servers string
	// Group names the workers that take part in a run together.
	Group string
	// Root defaults to DefaultRoot.
	Root string
	// SessionTimeout: a worker that stops answering for this long leaves the
	// group (default 6s).
	SessionTimeout time.Duration
	// Log receives the ZooKeeper client's own messages (nil: dropped).
	Log io.Writer
}

func (c Conn) check() (Conn, error) {
	if strings.TrimSpace(c.Servers) == "" {
		return c, errors.New("no ZooKeeper given: pass --zookeeper HOST:PORT (or set STACK_ZOOKEEPER)")
	}
	if c.Group == "" || strings.ContainsAny(c.Group, "/ ") {
		return c, fmt.Errorf("group %q: want a name without slashes or spaces, such as \"bfcm\"", c.Group)
	}
	if c.Root == "" {
		c.Root = DefaultRoot
	}
	if !strings.HasPrefix(c.Root, "/") || strings.HasSuffix(c.Root, "/") {
		return c, fmt.Errorf("root %q: want an absolute znode path such as /stack/load", c.Root)
	}
	if c.SessionTimeout == 0 {
		c.SessionTimeout = 6 * time.Second
	}
	return c, nil
}

func (c Conn) group() string { return path.Join(c.Root, c.Group) }

type logger struct{ w io.Writer }

func (l logger) Printf(format string, args ...any) {
	if l.w != nil {
		fmt.Fprintf(l.w, "zookeeper: "+format+"\n", args...)
	}
}

// dial connects and waits for a session.
func (c Conn) dial(ctx context.Context) (*zk.Conn, error) {
	servers := strings.Split(c.Servers, ",")
	for i := range servers {
		servers[i] = strings.TrimSpace(servers[i])
	}
	conn, _, err := zk.Connect(servers, c.SessionTimeout, zk.WithLogger(logger{c.Log}), zk.WithLogInfo(false))
	if err != nil {
		return nil, fmt.Errorf("zookeeper %s: %w", c.Servers, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for conn.State() != zk.StateHasSession {
		if ctx.Err() != nil {
			conn.Close()
			return nil, ctx.Err()
		}
		if time.Now().After(deadline) {
			conn.Close()
			return nil, fmt.Errorf("no session with ZooKeeper at %s within 30s: check --zookeeper and that the server runs (echo ruok | nc HOST PORT)", c.Servers)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return conn, nil
}

var acl = zk.WorldACL(zk.PermAll)

// ensure creates p and its parents as persistent nodes when missing.
func ensure(conn *zk.Conn, p string) error {
	if ok, _, err := conn.Exists(p); err != nil {
		return fmt.Errorf("zookeeper %s: %w", p, err)
	} else if ok {
		return nil
	}
	if dir := path.Dir(p); dir != "/" {
		if err := ensure(conn, dir); err != nil {
			return err
		}
	}
	if _, err := conn.Create(p, nil, 0, acl); err != nil && !errors.Is(err, zk.ErrNodeExists) {
		return fmt.Errorf("zookeeper: creating %s: %w", p, err)
	}
	return nil
}

// deleteTree removes p and everything below it.
func deleteTree(conn *zk.Conn, p string) error {
	kids, _, err := conn.Children(p)
	if errors.Is(err, zk.ErrNoNode) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, k := range kids {
		if err := deleteTree(conn, path.Join(p, k)); err != nil {
			return err
		}
	}
	if err := conn.Delete(p, -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
		return err
	}
	return nil
}

// seq is the sequence number ZooKeeper appended to a sequential node's name.
func seq(name string) int64 {
	if len(name) < 10 {
		return -1
	}
	n, err := strconv.ParseInt(name[len(name)-10:], 10, 64)
	if err != nil {
		return -1
	}
	return n
}

func sortBySeq(names []string) {
	sort.Slice(names, func(i, j int) bool { return seq(names[i]) < seq(names[j]) })
}

// shortName drops the protection prefix (_c_GUID-) of a worker's node name.
func shortName(name string) string {
	if i := strings.LastIndex(name, "-w-"); i >= 0 {
		return name[i+1:]
	}
	return name
}

// Identity is what a worker tells about itself when it registers.
type Identity struct {
	Host    string `json:"host"`
	PID     int    `json:"pid"`
	Metrics string `json:"metrics,omitempty"`
}

// Plan is the run a coordinator hands to its workers.
type Plan struct {
	Scenario map[string]string `json:"scenario"` // the scenario's files
	Source   string            `json:"source"`
	Target   string            `json:"target"`
	Rate     pace.Spec         `json:"rate"`
	Duration pace.Duration     `json:"duration,omitempty"`
	// Requests is the whole run's bound; each part takes its share.
	Requests uint64           `json:"requests,omitempty"`
	Options  scenario.Options `json:"options"`
	// AuthTokenSHA256 lets a worker check it signs with the same token as
	// the coordinator, without the token itself being stored in ZooKeeper.
	AuthTokenSHA256 string           `json:"auth_token_sha256"`
	Timeout         pace.Duration    `json:"timeout,omitempty"`
	LateAfter       pace.Duration    `json:"late_after,omitempty"`
	Window          pace.Duration    `json:"window,omitempty"`
	MaxWorkers      int              `json:"max_workers,omitempty"`
	Insecure        bool             `json:"insecure,omitempty"`
	Stop            *load.StopPolicy `json:"stop,omitempty"`
	Batch           int              `json:"batch,omitempty"`
	BatchWait       pace.Duration    `json:"batch_wait,omitempty"`
	// E2E traces messages to the probes; every share pulls them and keeps
	// the arrivals of its own messages (ids say which share sent them).
	E2E *e2e.Config `json:"e2e,omitempty"`
	// Workers are the workers' node names, in part order.
	Workers []string `json:"workers"`
	// StartWithin: a worker that sees no start this long after the plan gives
	// up its share (the coordinator is gone).
	StartWithin pace.Duration `json:"start_within"`
}

func tokenHash(token string) string {
	if token == "" {
		token = scenario.DefaultAuthToken
	}
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// config is part's share of the plan as a load configuration.
func (p *Plan) config(part int, authToken string) (load.Config, error) {
	if tokenHash(authToken) != p.AuthTokenSHA256 {
		return load.Config{}, errors.New("this worker's STACK_AUTH_TOKEN differs from the coordinator's: its signatures would be wrong; give every worker the coordinator's token")
	}
	sc, err := scenario.FromFiles(p.Scenario, p.Source)
	if err != nil {
		return load.Config{}, err
	}
	n := len(p.Workers)
	rate := p.Rate
	rate.Part, rate.Parts = part, n
	o := p.Options
	o.Part, o.Parts, o.AuthToken = part, n, authToken
	cfg := load.Config{Scenario: sc, Options: o, Target: p.Target, Rate: rate, Duration: time.Duration(p.Duration),
		Timeout: time.Duration(p.Timeout), LateAfter: time.Duration(p.LateAfter), Window: time.Duration(p.Window),
		MaxWorkers: p.MaxWorkers, Insecure: p.Insecure, Batch: p.Batch, BatchWait: time.Duration(p.BatchWait),
		Histograms: true}
	if p.E2E != nil {
		e := *p.E2E
		cfg.E2E = &e
	}
	if p.Requests > 0 {
		cfg.Requests = pace.Requests(p.Requests, part, n)
		if cfg.Requests == 0 {
			cfg.Requests = 1 // cannot happen: a plan has no more parts than requests
		}
	}
	if p.Stop != nil {
		s := *p.Stop
		cfg.Stop = &s
	}
	return cfg, nil
}

// start is the barrier's release.
type start struct {
	At    time.Time `json:"at"`
	Parts []string  `json:"parts"` // the workers taking part (a late one stays out)
}

// progress is a worker's running totals.
type progress struct {
	Elapsed   float64 `json:"elapsed"`
	Sent      uint64  `json:"sent"`
	Responses uint64  `json:"responses"`
	Success   uint64  `json:"success"`
	Late      uint64  `json:"late"`
	InFlight  int64   `json:"in_flight"`
	Rate      float64 `json:"rate"`
}

// result is what a worker sends back.
type result struct {
	Worker   string   `json:"worker"`
	Identity Identity `json:"identity"`
	Part     int      `json:"part"`
	// Error says why the share could not run at all.
	Error       string             `json:"error,omitempty"`
	Report      *load.Report       `json:"report,omitempty"`
	Hist        *load.Histograms   `json:"hist,omitempty"`
	WindowHists []*load.Histograms `json:"window_hists,omitempty"`
	// E2EHist and E2EWindowHists carry the e2e histograms (not in the report's JSON).
	E2EHist        *e2e.Hists          `json:"e2e_hist,omitempty"`
	E2EWindowHists []map[string]string `json:"e2e_window_hists,omitempty"`
	// Trace is the share's e2e trace (gzipped JSON lines), when it is at
	// most maxTrace; the coordinator joins the shares' into one.
	Trace     []byte `json:"trace,omitempty"`
	TraceNote string `json:"trace_note,omitempty"`
}

// maxTrace bounds a share's trace carried through ZooKeeper (in the
// result's 512 KiB chunks): about a million messages.
const maxTrace = 48 << 20

const chunk = 512 << 10
