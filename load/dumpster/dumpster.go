// Package dumpster is a webhook sink: it accepts any request, reads and
// discards its body and answers 200. The demo stack runs it as its local
// load target (the twin of the users' mail_dumpster), and bench/load uses it
// as the server end.
package dumpster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/stack-tools/stack/internal/proc"
)

// Server counts what it discards.
type Server struct {
	requests atomic.Uint64
	bytes    atomic.Uint64
}

// ServeHTTP implements http.Handler. GET /stats reports the counts.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && r.URL.Path == "/stats" {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]uint64{"requests": s.requests.Load(), "bytes": s.bytes.Load()})
		return
	}
	n, _ := io.Copy(io.Discard, r.Body)
	s.requests.Add(1)
	s.bytes.Add(uint64(n))
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
}

// Serve accepts on l until ctx ends.
func (s *Server) Serve(ctx context.Context, l net.Listener) error { return serve(ctx, l, s) }

func serve(ctx context.Context, l net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 5 * time.Minute}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Options for running the sink as a command.
type Options struct {
	Addr    string // listen address, 127.0.0.1:0 picks a free port
	Path    string // path of the webhook URL written to URLFile
	URLFile string // where to write the webhook URL once listening
	PIDFile string // where to write the process id
	LogFile string // with Background: where the detached process writes
	// Raw serves with the minimal HTTP/1.1 sink (benchmarks) instead of net/http.
	Raw bool
	// Probe, when its Journal is set, makes the sink an e2e probe (probe.go).
	Probe ProbeOptions
	// Pipeline, when set, makes it the demo's platform instead of a sink:
	// webhooks are processed and replied to at this URL (pipeline.go).
	Pipeline string
}

// Run listens, writes the URL and PID files, and serves until ctx ends.
func Run(ctx context.Context, o Options) error {
	l, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return fmt.Errorf("dumpster: listen on %s: %w", o.Addr, err)
	}
	url := "http://" + l.Addr().String() + o.Path
	if o.PIDFile != "" {
		if err := writeFile(o.PIDFile, strconv.Itoa(os.Getpid())); err != nil {
			return err
		}
		defer os.Remove(o.PIDFile)
	}
	if o.URLFile != "" {
		if err := writeFile(o.URLFile, url); err != nil {
			return err
		}
		defer os.Remove(o.URLFile)
	}
	fmt.Fprintln(os.Stderr, "dumpster: accepting webhooks at", url)
	if o.Probe.Journal != "" {
		return runProbe(ctx, l, o.Probe)
	}
	if o.Pipeline != "" {
		p := &Pipeline{Outbound: o.Pipeline, Delay: 40 * time.Millisecond, Slow: 60 * time.Millisecond}
		p.Start(ctx)
		return serve(ctx, l, p)
	}
	if o.Raw {
		return (&Server{}).ServeRaw(ctx, l)
	}
	return (&Server{}).Serve(ctx, l)
}

// writeFile writes atomically so a reader never sees half a URL.
func writeFile(path, text string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("dumpster: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(text), 0o644); err != nil {
		return fmt.Errorf("dumpster: %w", err)
	}
	return os.Rename(tmp, path)
}

// StartBackground starts exe with args (which must make it run the sink in the
// foreground) detached in its own session, with output to o.LogFile, and waits
// until it has written o.URLFile. It returns the URL.
func StartBackground(ctx context.Context, exe string, args []string, o Options) (string, error) {
	if o.URLFile == "" || o.PIDFile == "" {
		return "", errors.New("dumpster: --background needs --url-file and --pid-file, so the sink can be found and stopped")
	}
	os.Remove(o.URLFile)
	logPath := o.LogFile
	if logPath == "" {
		logPath = os.DevNull
	}
	if err := os.MkdirAll(filepath.Dir(o.URLFile), 0o755); err != nil {
		return "", fmt.Errorf("dumpster: %w", err)
	}
	if logPath != os.DevNull {
		if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
			return "", fmt.Errorf("dumpster: %w", err)
		}
	}
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return "", fmt.Errorf("dumpster: %w", err)
	}
	defer logf.Close()
	cmd := exec.Command(exe, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, logf, logf
	cmd.SysProcAttr = proc.NewSessionAttr()
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("dumpster: start %s: %w", exe, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	for {
		if b, err := os.ReadFile(o.URLFile); err == nil && len(b) > 0 {
			return strings.TrimSpace(string(b)), nil
		}
		select {
		case err := <-exited:
			return "", fmt.Errorf("dumpster: the sink exited before listening (%v); see %s", err, logPath)
		case <-ctx.Done():
			cmd.Process.Kill()
			return "", ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Stop ends the sink whose PID file is given; a missing file or process is not
// an error (it is already stopped).
func Stop(pidFile string) error {
	b, err := os.ReadFile(pidFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("dumpster: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return fmt.Errorf("dumpster: %s does not hold a process id", pidFile)
	}
	// A stale file may name a process id the system has given to someone else.
	if cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil && !strings.Contains(string(cmdline), "dumpster") {
		os.Remove(pidFile)
		return nil
	}
	if err := proc.Terminate(pid); err != nil {
		return fmt.Errorf("dumpster: stop process %d: %w", pid, err)
	}
	for i := 0; i < 100; i++ {
		if !proc.Alive(pid) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	os.Remove(pidFile)
	return nil
}
