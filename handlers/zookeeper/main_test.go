package zookeeper

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stack-tools/stack/internal/testenv"
	"github.com/stack-tools/stack/stack"
)

// server is the package's ZooKeeper, started once by TestMain (nil when the
// Debian package is missing outside CI).
var server *testenv.ZooKeeper

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "zookeeper-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	server, err = testenv.StartZooKeeper(dir)
	if err != nil {
		server = nil
		testenv.MissingMain(err)
	}
	code := m.Run()
	if server != nil {
		_ = server.Stop()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

func needServer(t *testing.T) *testenv.ZooKeeper {
	t.Helper()
	if server == nil {
		testenv.Missing(t, errors.New("ZooKeeper (Debian package zookeeper) is not available"))
	}
	return server
}

const appAuth = "app:app-secret"

func handlerFor(zkSrv *testenv.ZooKeeper) *Handler {
	// A generous retry deadline: a busy machine may take seconds to give a
	// session, and a publish that succeeds never waits for it.
	return New(Options{Hosts: zkSrv.Addr(), Auth: appAuth, SessionTimeout: 4 * time.Second, RetryTimeout: 30 * time.Second})
}

// runner runs the handler like the engine does: it keeps the record between
// runs, including the intermediate one stored before a write.
type runner struct {
	t       *testing.T
	h       *Handler
	stack   string
	step    string
	config  string
	record  json.RawMessage
	onWrite func() // called when the handler is about to send its transaction
	mu      sync.Mutex
	updates []json.RawMessage
	log     bytes.Buffer // the handler's detailed log, as the engine stores it
}

func newRunner(t *testing.T, h *Handler, stackName, step, config string) *runner {
	// The package shares one server: the stack's default root goes when the
	// test ends, so the test can run again (go test -count=N).
	if server != nil {
		t.Cleanup(func() { testenv.ZKDeleteTree(t, client(t, server, appAuth), "/stack/"+stackName) })
	}
	return &runner{t: t, h: h, stack: stackName, step: step, config: config}
}

func (r *runner) handlerRun(outputs stack.Outputs) *stack.HandlerRun {
	run := stack.NewHandlerRun(r.stack, r.step, json.RawMessage(r.config), outputs, map[string]any{"env": "test"})
	run.Previous = r.record
	run.Log = &r.log
	run.Update = func(rec json.RawMessage) error {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.updates = append(r.updates, rec)
		r.record = rec
		return nil
	}
	run.Progress = func(format string, args ...any) {
		if strings.HasPrefix(format, "writing") && r.onWrite != nil {
			r.onWrite()
		}
	}
	return run
}

// publish runs the handler and keeps its record.
func (r *runner) publish(outputs stack.Outputs) (record, error) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r.mu.Lock()
	r.updates = nil
	r.mu.Unlock()
	res, err := r.h.Run(ctx, r.handlerRun(outputs))
	if err != nil {
		// As the engine does: a failed handler keeps the record it returned, or
		// else the last one it stored during this run, or else none.
		r.mu.Lock()
		defer r.mu.Unlock()
		switch {
		case res.Record != nil:
			r.record = res.Record
		case len(r.updates) > 0:
			r.record = r.updates[len(r.updates)-1]
		default:
			r.record = nil
		}
		return record{}, err
	}
	r.record = res.Record
	rec, err := decodeRecord(res.Record)
	if err != nil {
		r.t.Fatal(err)
	}
	return rec, nil
}

func (r *runner) mustPublish(outputs stack.Outputs) record {
	r.t.Helper()
	rec, err := r.publish(outputs)
	if err != nil {
		r.t.Fatalf("publish: %v", err)
	}
	return rec
}

func (r *runner) teardown() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return r.h.Teardown(ctx, r.handlerRun(nil), r.record)
}

// client is a plain ZooKeeper client, as the application would use; auth is
// "" for an anonymous one.
func client(t *testing.T, zkSrv *testenv.ZooKeeper, auth string) *zk.Conn {
	return testenv.ZKClient(t, zkSrv.Addr(), auth)
}

func get(t *testing.T, conn *zk.Conn, p string) (string, *zk.Stat) {
	t.Helper()
	data, stat, err := conn.Get(p)
	if err != nil {
		t.Fatalf("get %s: %v", p, err)
	}
	return string(data), stat
}

func exists(t *testing.T, conn *zk.Conn, p string) bool {
	t.Helper()
	ok, _, err := conn.Exists(p)
	if err != nil {
		t.Fatalf("exists %s: %v", p, err)
	}
	return ok
}

// tree lists every znode outside /zookeeper.
func tree(t *testing.T, conn *zk.Conn) []string { return testenv.ZKTree(t, conn) }
