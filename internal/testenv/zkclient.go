package testenv

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// ZKClient is a plain ZooKeeper client, as the application would use, with a
// session established; auth is "user:password" for a digest identity, or "" for
// an anonymous client. It is closed when the test ends.
func ZKClient(tb testing.TB, addr, auth string) *zk.Conn {
	tb.Helper()
	conn, _, err := zk.Connect([]string{addr}, 4*time.Second, zk.WithLogInfo(false), zk.WithLogger(quietLogger{}))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(conn.Close)
	deadline := time.Now().Add(20 * time.Second)
	for conn.State() != zk.StateHasSession {
		if time.Now().After(deadline) {
			tb.Fatalf("no ZooKeeper session with %s", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if auth != "" {
		if err := conn.AddAuth("digest", []byte(auth)); err != nil {
			tb.Fatal(err)
		}
	}
	return conn
}

type quietLogger struct{}

func (quietLogger) Printf(string, ...any) {}

// ZKTree lists every znode outside /zookeeper with its data, version and mzxid,
// so a test can compare the whole tree before and after.
func ZKTree(tb testing.TB, conn *zk.Conn) []string {
	tb.Helper()
	var out []string
	var walk func(p string)
	walk = func(p string) {
		if p == "/zookeeper" {
			return
		}
		data, stat, err := conn.Get(p)
		if errors.Is(err, zk.ErrNoNode) {
			return
		}
		if err != nil {
			tb.Fatalf("read %s: %v", p, err)
		}
		out = append(out, fmt.Sprintf("%s=%q v%d mzxid=%d", p, data, stat.Version, stat.Mzxid))
		kids, _, err := conn.Children(p)
		if err != nil {
			tb.Fatalf("children of %s: %v", p, err)
		}
		sort.Strings(kids)
		for _, k := range kids {
			walk(strings.TrimSuffix(p, "/") + "/" + k)
		}
	}
	walk("/")
	return out
}

// ZKDeleteTree deletes root and everything under it (a missing root is fine),
// so a test sharing the package's server can run again with -count=N.
func ZKDeleteTree(tb testing.TB, conn *zk.Conn, root string) {
	tb.Helper()
	kids, _, err := conn.Children(root)
	if errors.Is(err, zk.ErrNoNode) {
		return
	}
	if err != nil {
		tb.Errorf("clean up %s: %v", root, err)
		return
	}
	for _, k := range kids {
		ZKDeleteTree(tb, conn, strings.TrimSuffix(root, "/")+"/"+k)
	}
	if err := conn.Delete(root, -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
		tb.Errorf("clean up %s: %v", root, err)
	}
}
