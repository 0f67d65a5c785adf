package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/go-zookeeper/zk"

	"github.com/stack-tools/stack/internal/testenv"
	"github.com/stack-tools/stack/state"
)

// The acceptance of issue 4, through the CLI: the demo stack's database step
// publishes its outputs to a real ZooKeeper, rerun-step keeps them current,
// down restores the tree, and without ZooKeeper the handler is skipped.
func TestZooKeeperHandlerEndToEnd(t *testing.T) {
	tf, err := testenv.FindBinary("terraform", "STACK_TERRAFORM")
	if err != nil {
		testenv.Missing(t, err)
	}
	// A server of its own: this test stops and restarts it.
	zkSrv, err := testenv.StartZooKeeper(t.TempDir())
	if err != nil {
		testenv.Missing(t, err)
	}
	t.Cleanup(func() { _ = zkSrv.Stop() })

	dir := t.TempDir()
	def := zkDemoWithPublish(t, dir)
	stateDir := filepath.Join(dir, "state")
	auth := []string{"STACK_TERRAFORM=" + tf, "STACK_ZOOKEEPER_AUTH=app:app-secret", "STACK_ZOOKEEPER_RETRY=2s"}
	w := newWorkstation(t, stateDir, append([]string{"STACK_ZOOKEEPER=" + zkSrv.Addr()}, auth...)...)
	noZK := newWorkstation(t, stateDir, auth...)

	app := zkClient(t, zkSrv.Addr(), "app:app-secret")
	anon := zkClient(t, zkSrv.Addr(), "")
	before := zkTree(t, app)

	w.must("up", def, "--name", "zkdemo", "--only", "network,database")
	node := func(p string) (string, *zk.Stat) {
		t.Helper()
		data, stat, err := app.Get("/stack/zkdemo/database" + p)
		if err != nil {
			t.Fatalf("read %s: %v", p, err)
		}
		return string(data), stat
	}
	if v, _ := node("/endpoint"); v != "db.1az.internal" {
		t.Fatalf("published endpoint = %q", v)
	}
	if v, _ := node("/port"); v != "3306" {
		t.Fatalf("published port = %q", v)
	}
	if _, _, err := anon.Get("/stack/zkdemo/database/password"); !errors.Is(err, zk.ErrNoAuth) {
		t.Fatalf("anonymous read of the password: %v, want NoAuth", err)
	}
	password, passStat := node("/password")
	if len(password) != 64 {
		t.Fatalf("password read with the credentials has %d characters, want the module's 64", len(password))
	}
	// Terraform's own state holds it, as it must; the stack's records and logs must not.
	for _, d := range []string{stateDir, w.home} {
		if leaked := zkGrepDir(t, d, password); leaked != "" {
			t.Fatalf("the sensitive value was written to %s", leaked)
		}
	}
	_, portStat := node("/port")
	_, endpointStat := node("/endpoint")
	if v, _ := node("/.version"); v != "1" {
		t.Fatalf("version node = %q after up", v)
	}

	// The module's output changes; rerun-step updates exactly that node.
	zkEditModule(t, dir, `endpoint = "db.${length(var.subnet_ids)}az.internal"`, `endpoint = "db.${length(var.subnet_ids)}az.v2.internal"`)
	w.must("rerun-step", "zkdemo", "database")
	if v, s := node("/endpoint"); v != "db.1az.v2.internal" || s.Version != endpointStat.Version+1 {
		t.Fatalf("endpoint after rerun-step = %q (version %d)", v, s.Version)
	}
	if _, s := node("/port"); s.Mzxid != portStat.Mzxid {
		t.Fatal("rerun-step rewrote the unchanged port")
	}
	if _, s := node("/password"); s.Mzxid != passStat.Mzxid {
		t.Fatal("rerun-step rewrote the unchanged password")
	}
	if v, _ := node("/.version"); v != "2" {
		t.Fatalf("version node = %q after rerun-step, want 2", v)
	}

	// ZooKeeper down during a rerun: the step fails, keeps its Terraform
	// outputs, nothing is written; the next rerun-step finishes the publish.
	published := zkTree(t, app)
	zkEditModule(t, dir, `az.v2.internal"`, `az.v3.internal"`)
	if err := zkSrv.Stop(); err != nil {
		t.Fatal(err)
	}
	r := w.run("rerun-step", "zkdemo", "database")
	if r.code != 1 || !strings.Contains(r.stderr+r.stdout, "ZooKeeper unreachable") || !strings.Contains(r.stderr+r.stdout, zkSrv.Addr()) {
		t.Fatalf("rerun-step with ZooKeeper stopped: exit %d, want 1 naming the unreachable server\n%s%s", r.code, r.stdout, r.stderr)
	}
	if s := w.status("zkdemo").Steps["database"]; s.Status != state.StatusFailed || s.Outputs["endpoint"].Value != "db.1az.v3.internal" {
		t.Fatalf("database after the failed publish: %+v, want failed with the new Terraform outputs kept", s)
	}
	if err := zkSrv.Start(); err != nil {
		t.Fatal(err)
	}
	app = zkClient(t, zkSrv.Addr(), "app:app-secret")
	if now := zkTree(t, app); !slices.Equal(published, now) {
		t.Fatalf("the failed publish changed ZooKeeper:\nbefore %v\nafter  %v", published, now)
	}
	w.must("rerun-step", "zkdemo", "database")
	if v, _ := node("/endpoint"); v != "db.1az.v3.internal" {
		t.Fatalf("endpoint after the completing rerun-step = %q", v)
	}
	if v, _ := node("/.version"); v != "3" {
		t.Fatalf("version node = %q, want 3", v)
	}

	w.must("down", "zkdemo")
	if after := zkTree(t, app); !slices.Equal(before, after) {
		t.Fatalf("down did not restore the tree:\nbefore %v\nafter  %v", before, after)
	}

	// No ZooKeeper: the stack still comes up; status says the handler was
	// skipped, why, and how to enable it.
	noZK.must("up", def, "--name", "nozk", "--only", "network,database")
	text := noZK.must("status", "nozk").stdout
	if !strings.Contains(text, "handler zookeeper: skipped") || !strings.Contains(text, "set --zookeeper HOST:PORT or STACK_ZOOKEEPER") {
		t.Fatalf("status without ZooKeeper does not show the skip and its reason:\n%s", text)
	}
	noZK.must("down", "nozk")
}

// zkDemoWithPublish copies the demo stack and its modules, and adds a
// zookeeper handler to the database step.
func zkDemoWithPublish(t *testing.T, dir string) string {
	t.Helper()
	repo, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(filepath.Join(dir, "modules"), os.DirFS(filepath.Join(repo, "modules"))); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(repo, "stacks", "demo.json"))
	if err != nil {
		t.Fatal(err)
	}
	var def map[string]any
	if err := json.Unmarshal(raw, &def); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, s := range def["steps"].([]any) {
		step := s.(map[string]any)
		if step["name"] == "database" {
			step["on_complete"] = []any{map[string]any{
				"handler": "zookeeper",
				"publish": map[string]any{
					"/database/endpoint": "${outputs.endpoint}",
					"/database/port":     "${outputs.port}",
					"/database/password": "${outputs.password}",
				},
			}}
			found = true
		}
	}
	if !found {
		t.Fatal("the demo stack has no database step")
	}
	out, _ := json.MarshalIndent(def, "", "  ")
	path := filepath.Join(dir, "stacks", "demo.json")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func zkEditModule(t *testing.T, dir, old, new string) {
	t.Helper()
	path := filepath.Join(dir, "modules", "local", "database", "main.tf")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(old)) {
		t.Fatalf("%s has no %q", path, old)
	}
	if err := os.WriteFile(path, bytes.Replace(b, []byte(old), []byte(new), 1), 0o644); err != nil {
		t.Fatal(err)
	}
}

func zkClient(t *testing.T, addr, auth string) *zk.Conn { return testenv.ZKClient(t, addr, auth) }

func zkTree(t *testing.T, conn *zk.Conn) []string { return testenv.ZKTree(t, conn) }

// zkGrepDir returns the first file under dir, outside Terraform's state and
// working data, that contains s.
func zkGrepDir(t *testing.T, dir, s string) string {
	t.Helper()
	found := ""
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() && (d.Name() == "tfstate" || d.Name() == ".terraform" || d.Name() == "terraform-bin") {
			return filepath.SkipDir
		}
		if err != nil || d.IsDir() || found != "" || strings.HasSuffix(p, ".tfstate") {
			return nil
		}
		if b, err := os.ReadFile(p); err == nil && bytes.Contains(b, []byte(s)) {
			found = p
		}
		return nil
	})
	return found
}
