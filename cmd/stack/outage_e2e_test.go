package main

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stack-tools/stack/internal/testenv"
	"github.com/stack-tools/stack/state"
)

// Acceptance (issue 11): the network to the S3 store is cut in the middle of an
// up while the server keeps running. The command fails with an error naming
// the store; the records still read back consistently; once the network is
// back the next up converges: every step applied, each resource created once.
func TestS3NetworkCutMidUp(t *testing.T) {
	m, stateDir := startS3(t)
	u, err := url.Parse(m.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	p, err := testenv.StartProxy(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	def, applied := slowStack(t, "cut", 3)
	// Everything the commands do goes through the proxy; AWS_MAX_ATTEMPTS=2
	// keeps the wait for the failure short for stack and Terraform alike.
	a := s3Workstation(t, m, stateDir, "alice", "AWS_ENDPOINT_URL_S3=http://"+p.Addr, "AWS_MAX_ATTEMPTS=2")
	// The test's own view of the store, around the proxy.
	direct := s3Workstation(t, m, stateDir, "alice")

	up := a.cmd(t.Context(), nil, "up", def)
	var stderr strings.Builder
	up.Stderr = &stderr
	if err := up.Start(); err != nil {
		t.Fatal(err)
	}
	waitStepRunning(t, a, "cut", "long", up)
	p.Cut()
	_ = up.Wait()
	if up.ProcessState.ExitCode() != 1 {
		t.Errorf("up with the network cut: exit %d, want 1\n%s", up.ProcessState.ExitCode(), stderr.String())
	}
	msg := stderr.String()
	t.Logf("up's error with the network cut:\n%s", msg[max(0, strings.LastIndex(msg, "Error:")):])
	if !strings.Contains(msg, stateDir) || !strings.Contains(msg, p.Addr) || !strings.Contains(msg, "AWS_ENDPOINT_URL_S3") {
		t.Errorf("up with the network cut does not name the store %s, its endpoint %s and how it was set:\n%s", stateDir, p.Addr, msg)
	}

	// Consistent records while the network is still down: the first step is
	// applied, the last never started, nothing claims to have finished that did not.
	s := direct.status("cut")
	if st := s.Steps["first"]; st == nil || st.Status != state.StatusApplied {
		t.Errorf("first after the cut: %+v", st)
	}
	if st := s.Steps["last"]; st != nil && st.Status == state.StatusApplied {
		t.Errorf("last is recorded applied although it never ran")
	}

	p.Restore()
	a.must("up", def)
	stepsApplied(t, a.status("cut"), "first", "long", "last")
	if n := appliesPerStep(t, applied); n["first"] != 1 || n["long"] != 1 || n["last"] != 1 {
		t.Errorf("real applies per step = %v, want each exactly once", n)
	}
	a.must("down", "cut")
}

// The same for ZooKeeper: the network to it is cut while a step that publishes
// runs. The step fails naming the ZooKeeper address, its Terraform part stays
// applied; once the network is back the next up publishes without
// re-creating anything.
func TestZooKeeperNetworkCutMidUp(t *testing.T) {
	zkSrv, err := testenv.StartZooKeeper(t.TempDir())
	if err != nil {
		testenv.Missing(t, err)
	}
	t.Cleanup(func() { _ = zkSrv.Stop() })
	p, err := testenv.StartProxy(zkSrv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)

	dir := t.TempDir()
	applied := filepath.Join(dir, "applied.txt")
	module := filepath.Join(dir, "module")
	_ = os.MkdirAll(module, 0o755)
	_ = os.WriteFile(filepath.Join(module, "main.tf"), []byte(`
variable "record" { type = string }
resource "terraform_data" "work" {
  input = "v1"
  provisioner "local-exec" { command = "sleep 3 && echo pub >> ${var.record}" }
}
output "value" { value = terraform_data.work.output }
`), 0o644)
	def := filepath.Join(dir, "zkcut.json")
	_ = os.WriteFile(def, []byte(fmt.Sprintf(`{"name":"zkcut","steps":[{"name":"pub","module":"module","vars":{"record":%q},
	  "on_complete":[{"handler":"zookeeper","publish":{"/value":"${outputs.value}"}}]}]}`, applied)), 0o644)
	w := newWorkstation(t, filepath.Join(dir, "state"), "STACK_ZOOKEEPER="+p.Addr, "STACK_ZOOKEEPER_RETRY=2s")

	up := w.cmd(t.Context(), nil, "up", def)
	var stderr strings.Builder
	up.Stderr = &stderr
	if err := up.Start(); err != nil {
		t.Fatal(err)
	}
	waitStepRunning(t, w, "zkcut", "pub", up)
	p.Cut()
	_ = up.Wait()
	if code := up.ProcessState.ExitCode(); code != 1 || !strings.Contains(stderr.String(), p.Addr) || !strings.Contains(stderr.String(), "ZooKeeper") {
		t.Errorf("up with ZooKeeper cut off: exit %d, want 1 naming ZooKeeper at %s:\n%s", code, p.Addr, stderr.String())
	}
	if st := w.status("zkcut").Steps["pub"]; st.Status != state.StatusFailed || len(st.Handlers) != 1 || st.Handlers[0].Status != state.StatusFailed {
		t.Errorf("pub after the cut: %s, handlers %+v", st.Status, st.Handlers)
	}

	p.Restore()
	w.must("up", def)
	if st := w.status("zkcut").Steps["pub"]; st.Status != state.StatusApplied {
		t.Errorf("pub after the network came back: %s", st.Status)
	}
	conn := testenv.ZKClient(t, zkSrv.Addr(), "")
	if data, _, err := conn.Get("/stack/zkcut/value"); err != nil || string(data) != "v1" {
		t.Errorf("published value after the rerun: %q, %v", data, err)
	}
	if n := appliesPerStep(t, applied); n["pub"] != 1 {
		t.Errorf("the resource was created %d times, want once", n["pub"])
	}
	w.must("down", "zkcut")
}
