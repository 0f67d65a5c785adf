// Command bench/store measures `stack list`, `stack status NAME` and `stack
// reap --dry-run` against an S3 store holding 10, 100 and 1,000 stacks, with a
// proxy adding a round trip's latency to every request, as S3 has from a
// workstation. Run it through bench/store/run.
//
// The stacks are written straight into MinIO through the store API (records,
// logs, a module snapshot, some leases), not by running `stack up` a thousand
// times; only the measured commands go through the proxy, which counts their
// requests.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stack-tools/stack/internal/testenv"
	"github.com/stack-tools/stack/stores/s3store"
)

type config struct {
	bin     string        // the stack binary measured
	before  string        // another stack binary to measure too ("" for none)
	sizes   []int         // stack counts
	delay   time.Duration // added to every request
	connect time.Duration // added to every new connection (TCP and TLS handshakes)
	runs    int           // runs per command; the median is shown
	// serverCPU reads the CPU time MinIO has used so far.
	serverCPU func() time.Duration
}

func main() {
	var c config
	var sizes string
	flag.StringVar(&c.bin, "stack", "", "the stack binary to measure (required)")
	flag.StringVar(&c.before, "before", "", "another stack binary (an older commit) to measure the same way")
	flag.StringVar(&sizes, "sizes", "10,100,1000", "numbers of stacks in the store, comma-separated")
	flag.DurationVar(&c.delay, "delay", 30*time.Millisecond, "latency added to every request")
	flag.DurationVar(&c.connect, "connect", 60*time.Millisecond, "latency added to every new connection (a TCP and a TLS 1.3 handshake: two round trips)")
	flag.IntVar(&c.runs, "runs", 3, "runs per command (the median is shown)")
	flag.Parse()
	for _, s := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "-sizes %q: want positive numbers separated by commas\n", sizes)
			os.Exit(2)
		}
		c.sizes = append(c.sizes, n)
	}
	if c.bin == "" || c.runs < 1 {
		fmt.Fprintln(os.Stderr, "-stack is required and -runs must be 1 or more; see bench/store/run")
		os.Exit(2)
	}
	if err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "bench/store:", err)
		os.Exit(1)
	}
}

func run(c config) error {
	dir, err := os.MkdirTemp("", "bench-store-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	m, err := testenv.StartMinio(filepath.Join(dir, "minio"))
	if err != nil {
		return err
	}
	defer m.Stop()
	c.serverCPU = serverCPU(filepath.Join(dir, "minio", "data"))
	p, err := startProxy(m.Endpoint, c.delay, c.connect)
	if err != nil {
		return err
	}
	defer p.close()

	// Seeding talks to MinIO directly; the commands measured, through the proxy.
	for _, kv := range m.Env() {
		k, v, _ := strings.Cut(kv, "=")
		os.Setenv(k, v)
	}
	url := "s3://" + m.Bucket + "/bench"
	ctx := context.Background()
	st, err := s3store.Open(ctx, url)
	if err != nil {
		return err
	}
	env := append(os.Environ(), "AWS_ENDPOINT_URL_S3=http://"+p.addr, "STACK_STATE="+url, "STACK_CACHE="+filepath.Join(dir, "cache"))

	fmt.Printf("bench/store: %s added per request, %s per new connection; MinIO %s; %d runs of each command, in turn;\n", c.delay, c.connect, m.Endpoint, c.runs)
	fmt.Printf("time is the median and best of them, cpu (the command's) and minio (the server's) medians\n\n")
	fmt.Printf("%-7s %-8s %-17s %8s %8s %8s %8s %9s  %s\n", "stacks", "binary", "command", "time", "best", "cpu", "minio", "requests", "by kind")
	seeded := 0
	for _, n := range c.sizes {
		if err := seed(ctx, st, seeded, n); err != nil {
			return err
		}
		seeded = max(seeded, n)
		for _, b := range binaries(c) {
			if err := measureAll(c, p, env, n, b); err != nil {
				return err
			}
		}
	}
	return nil
}

type binary struct{ label, path string }

func binaries(c config) []binary {
	bs := []binary{{"this", c.bin}}
	if c.before != "" {
		bs = append(bs, binary{"before", c.before})
	}
	return bs
}

// commands are the measured command lines; status names a stack in the middle.
func commands(n int) [][]string {
	return [][]string{
		{"list"},
		{"list", "--output", "json"},
		{"list", "--locked"},
		{"status", stackName(n / 2)},
		{"reap", "--dry-run"},
	}
}

// sample is what the runs of one command line measured.
type sample struct {
	args                 []string
	times, cpus, servers []time.Duration
	counts               map[string]int
	conns                int
}

// measureAll runs each command line c.runs times, one of each in turn, so a
// burst of load from elsewhere on the machine falls on all of them alike
// rather than on every run of one.
func measureAll(c config, p *proxy, env []string, n int, b binary) error {
	samples := make([]*sample, 0, len(commands(n)))
	for _, args := range commands(n) {
		samples = append(samples, &sample{args: args})
	}
	for i := 0; i < c.runs; i++ {
		for _, s := range samples {
			if err := runOnce(c, p, env, b, s); err != nil {
				return err
			}
		}
	}
	for _, s := range samples {
		printSample(n, b, s)
	}
	return nil
}

func runOnce(c config, p *proxy, env []string, b binary, s *sample) error {
	p.reset()
	server := c.serverCPU()
	cmd := exec.Command(b.path, s.args...)
	cmd.Env = env
	cmd.Stdout = io.Discard
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w\n%s", b.path, strings.Join(s.args, " "), err, stderr.String())
	}
	s.times = append(s.times, time.Since(start))
	s.cpus = append(s.cpus, cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime())
	s.servers = append(s.servers, c.serverCPU()-server)
	s.counts, s.conns = p.snapshot()
	return nil
}

func printSample(n int, b binary, s *sample) {
	for _, l := range [][]time.Duration{s.times, s.cpus, s.servers} {
		slices.Sort(l)
	}
	total := 0
	var kinds []string
	for k, v := range s.counts {
		total += v
		kinds = append(kinds, fmt.Sprintf("%d %s", v, k))
	}
	sort.Strings(kinds)
	name := strings.Join(s.args, " ")
	if s.args[0] == "status" {
		name = "status NAME"
	}
	mid := len(s.times) / 2
	fmt.Printf("%-7d %-8s %-17s %7.2fs %7.2fs %7.2fs %7.2fs %9d  %s; %d connections\n", n, b.label, name,
		s.times[mid].Seconds(), s.times[0].Seconds(), s.cpus[mid].Seconds(), s.servers[mid].Seconds(),
		total, strings.Join(kinds, ", "), s.conns)
}

// proxy forwards HTTP requests to MinIO, each after delay, and counts them.
type proxy struct {
	addr   string
	srv    *http.Server
	mu     sync.Mutex
	counts map[string]int
	conns  atomic.Int64
}

func startProxy(target string, delay, connect time.Duration) (*proxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &proxy{addr: ln.Addr().String(), counts: map[string]int{}}
	rp := httputil.NewSingleHostReverseProxy(u)
	// The proxy's own connections to MinIO stay open: only the client's
	// connections, which cross the "network", pay for handshakes.
	rp.Transport = &http.Transport{MaxIdleConns: 512, MaxIdleConnsPerHost: 512}
	p.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.count(r)
		time.Sleep(delay)
		rp.ServeHTTP(w, r)
	})}
	go func() { _ = p.srv.Serve(&slowListener{Listener: ln, delay: connect, p: p}) }()
	return p, nil
}

func (p *proxy) count(r *http.Request) {
	kind := strings.ToLower(r.Method)
	if r.Method == http.MethodGet && r.URL.Query().Has("list-type") {
		kind = "list"
	}
	p.mu.Lock()
	p.counts[kind]++
	p.mu.Unlock()
}

func (p *proxy) reset() {
	p.mu.Lock()
	p.counts = map[string]int{}
	p.mu.Unlock()
	p.conns.Store(0)
}

// snapshot returns the requests by kind since reset, and the new connections.
func (p *proxy) snapshot() (map[string]int, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.counts), int(p.conns.Load())
}

func (p *proxy) close() { _ = p.srv.Close() }

// slowListener delays each new connection's first read by delay: the
// handshakes a connection to S3 costs before its first request.
type slowListener struct {
	net.Listener
	delay time.Duration
	p     *proxy
}

func (l *slowListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.p.conns.Add(1)
	return &slowConn{Conn: c, delay: l.delay}, nil
}

type slowConn struct {
	net.Conn
	delay time.Duration
	once  sync.Once
}

func (c *slowConn) Read(b []byte) (int, error) {
	c.once.Do(func() { time.Sleep(c.delay) })
	return c.Conn.Read(b)
}
