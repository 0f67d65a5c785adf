package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/stack-tools/stack/handlers/aurora"
	"github.com/stack-tools/stack/internal/testenv"
)

// auroraNetModule stands in for the module that makes the database's network:
// it emits the subnet group and security groups the aurora handler needs.
const auroraNetModule = `
variable "stack_name" {
  type = string
}

resource "terraform_data" "net" {
  input = {
    subnet_group    = "${var.stack_name}-db"
    security_groups = ["sg-0123456789abcdef0"]
  }
}

output "subnet_group" {
  value = terraform_data.net.output.subnet_group
}

output "security_group_ids" {
  value = terraform_data.net.output.security_groups
}
`

// auroraAppModule is a dependent that consumes the restored cluster's endpoint.
const auroraAppModule = `
variable "db_endpoint" {
  type = string
}

variable "db_port" {
  type = number
}

resource "terraform_data" "app" {
  input = "postgres://${var.db_endpoint}:${var.db_port}/app"
}

output "database_url" {
  value = terraform_data.app.output
}
`

// auroraStack restores ${var.snapshot} in step db; minimal and production
// differ in the number and class of instances.
const auroraStack = `{
  "name": "aurora-e2e",
  "variables": {
    "aurora_snapshots": {"seeded": "e2e-seeded", "empty": "e2e-empty"},
    "snapshot": "SNAPSHOT"
  },
  "steps": [
    {"name": "db", "module": "modules/dbnet", "vars": {"stack_name": "${stack.name}"},
     "on_complete": [{"handler": "aurora", "snapshot": "${var.snapshot}", "engine": "aurora-postgresql",
       "instance_class": "db.t4g.medium", "instances": 1,
       "subnet_group": "${outputs.subnet_group}", "security_groups": "${outputs.security_group_ids}"}],
     "profiles": {
       "minimal": {},
       "production": {"on_complete": [{"handler": "aurora", "snapshot": "${var.snapshot}", "engine": "aurora-postgresql",
         "instance_class": "db.r6g.large", "instances": 3,
         "subnet_group": "${outputs.subnet_group}", "security_groups": "${outputs.security_group_ids}"}]}
     }},
    {"name": "app", "module": "modules/app",
     "vars": {"db_endpoint": "${steps.db.outputs.endpoint}", "db_port": "${steps.db.outputs.port}"}}
  ]
}`

// auroraE2E runs the stack binary against moto and terraform.
type auroraE2E struct {
	t    *testing.T
	w    *workstation
	dir  string
	api  *rds.Client
	moto *testenv.Moto
}

func newAuroraE2E(t *testing.T) *auroraE2E {
	t.Helper()
	tf, err := testenv.FindBinary("terraform", "STACK_TERRAFORM")
	if err != nil {
		testenv.Missing(t, err)
	}
	moto := sharedMoto(t)
	dir := t.TempDir()
	for name, src := range map[string]string{"dbnet": auroraNetModule, "app": auroraAppModule} {
		d := filepath.Join(dir, "modules", name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "main.tf"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := append(moto.Env(), "STACK_TERRAFORM="+tf, "CHECKPOINT_DISABLE=1")
	return &auroraE2E{t: t, w: newWorkstation(t, filepath.Join(dir, "state"), env...), dir: dir, api: motoRDS(moto), moto: moto}
}

// definition writes the stack definition restoring snapshot and returns its path.
func (e *auroraE2E) definition(snapshot string) string {
	e.t.Helper()
	p := filepath.Join(e.dir, "aurora-"+snapshot+".json")
	if err := os.WriteFile(p, []byte(strings.Replace(auroraStack, "SNAPSHOT", snapshot, 1)), 0o644); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// stack runs the CLI and returns its exit code, stdout and stderr.
func (e *auroraE2E) stack(args ...string) (int, string, string) {
	e.t.Helper()
	r := e.w.run(args...)
	return r.code, r.stdout, r.stderr
}

func (e *auroraE2E) mustStack(args ...string) string {
	e.t.Helper()
	return e.w.must(args...).stdout
}

func (e *auroraE2E) cluster(id string) *types.DBCluster {
	e.t.Helper()
	out, err := e.api.DescribeDBClusters(context.Background(), &rds.DescribeDBClustersInput{DBClusterIdentifier: aws.String(id)})
	if err != nil {
		if strings.Contains(err.Error(), "DBClusterNotFoundFault") {
			return nil
		}
		e.t.Fatal(err)
	}
	return &out.DBClusters[0]
}

// instanceClasses lists the classes of the cluster's instances.
func (e *auroraE2E) instanceClasses(id string) []string {
	e.t.Helper()
	out, err := e.api.DescribeDBInstances(context.Background(), &rds.DescribeDBInstancesInput{})
	if err != nil {
		e.t.Fatal(err)
	}
	var classes []string
	for _, in := range out.DBInstances {
		if aws.ToString(in.DBClusterIdentifier) == id {
			classes = append(classes, aws.ToString(in.DBInstanceClass))
		}
	}
	return classes
}

// outputs reads a step's outputs with `stack outputs NAME STEP --output json`.
func (e *auroraE2E) outputs(name, step string) map[string]struct{ Value any } {
	e.t.Helper()
	var outs map[string]struct{ Value any }
	raw := e.mustStack("outputs", name, step, "--output", "json")
	if err := json.Unmarshal([]byte(raw), &outs); err != nil {
		e.t.Fatalf("outputs %s %s: %v\n%s", name, step, err, raw)
	}
	return outs
}

// forgetAutomatedBackups drops the automated snapshots moto keeps after a
// cluster is deleted (AWS deletes them with it); moto names them by the
// minute, so restoring the same cluster again within a minute would collide.
func (e *auroraE2E) forgetAutomatedBackups(id string) {
	e.t.Helper()
	out, err := e.api.DescribeDBClusterSnapshots(context.Background(), &rds.DescribeDBClusterSnapshotsInput{
		DBClusterIdentifier: aws.String(id), SnapshotType: aws.String("automated"),
	})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, s := range out.DBClusterSnapshots {
		if _, err := e.api.DeleteDBClusterSnapshot(context.Background(), &rds.DeleteDBClusterSnapshotInput{DBClusterSnapshotIdentifier: s.DBClusterSnapshotIdentifier}); err != nil {
			e.t.Fatal(err)
		}
	}
}

func TestAuroraStackEndToEnd(t *testing.T) {
	e := newAuroraE2E(t)
	seeded := e.definition("seeded")

	// Profiles: minimal is one small writer, production a writer and two readers.
	for _, tc := range []struct {
		name, profile, class string
		n                    int
	}{{"aur-min", "minimal", "db.t4g.medium", 1}, {"aur-prod", "production", "db.r6g.large", 3}} {
		e.mustStack("up", seeded, "--name", tc.name, "--profile", tc.profile)
		id := aurora.ClusterID(tc.name, "db")
		cl := e.cluster(id)
		if cl == nil {
			t.Fatalf("%s: no cluster %s after up", tc.name, id)
		}
		classes := e.instanceClasses(id)
		if len(classes) != tc.n {
			t.Errorf("%s: %d instances, want %d", tc.name, len(classes), tc.n)
		}
		for _, c := range classes {
			if c != tc.class {
				t.Errorf("%s: instance class %s, want %s", tc.name, c, tc.class)
			}
		}
		// The endpoint reached the dependent step's inputs.
		want := "postgres://" + aws.ToString(cl.Endpoint) + ":5432/app"
		if got := e.outputs(tc.name, "app")["database_url"].Value; got != want {
			t.Errorf("%s: app's database_url %v, want %s", tc.name, got, want)
		}
		if got := e.outputs(tc.name, "db")["cluster_id"].Value; got != id {
			t.Errorf("%s: db's cluster_id output %v, want %s", tc.name, got, id)
		}
	}

	// Re-running the step adopts the cluster and creates nothing.
	id := aurora.ClusterID("aur-min", "db")
	created := *e.cluster(id).ClusterCreateTime
	e.mustStack("rerun-step", "aur-min", "db")
	if !e.cluster(id).ClusterCreateTime.Equal(created) || len(e.instanceClasses(id)) != 1 {
		t.Error("rerun-step restored the cluster again or changed its instances")
	}

	// Switching the snapshot fails and says how to replace; --replace does.
	code, _, stderr := e.stack("up", e.definition("empty"), "--name", "aur-min", "--profile", "minimal")
	if code != 1 || !strings.Contains(stderr, "stack rerun-step aur-min db --replace") || !strings.Contains(stderr, "e2e-seeded") {
		t.Errorf("up with another snapshot: exit %d, stderr:\n%s", code, stderr)
	}
	if !e.cluster(id).ClusterCreateTime.Equal(created) {
		t.Error("the refused up touched the cluster")
	}
	e.forgetAutomatedBackups(id)
	e.mustStack("rerun-step", "aur-min", "db", "--replace")
	cl := e.cluster(id)
	if cl == nil || cl.ClusterCreateTime.Equal(created) {
		t.Error("rerun-step --replace did not replace the cluster")
	}

	// Remapping the name in aurora_snapshots (which the handler's config does
	// not reference) is a change too: up runs the step and refuses the switch.
	remapped := filepath.Join(e.dir, "aurora-remapped.json")
	def, _ := os.ReadFile(e.definition("empty"))
	os.WriteFile(remapped, []byte(strings.Replace(string(def), `"empty": "e2e-empty"`, `"empty": "e2e-seeded"`, 1)), 0o644)
	code, _, stderr = e.stack("up", remapped, "--name", "aur-min", "--profile", "minimal")
	if code != 1 || !strings.Contains(stderr, "--replace") || !strings.Contains(stderr, "e2e-seeded") {
		t.Errorf("up after remapping the snapshot name: exit %d, stderr:\n%s", code, stderr)
	}
	e.mustStack("up", e.definition("empty"), "--name", "aur-min", "--profile", "minimal")

	// A missing snapshot fails the step with the fix; the stack resumes once fixed.
	code, _, stderr = e.stack("up", e.definition("nosuch-snap"), "--name", "aur-miss")
	if code != 1 || !strings.Contains(stderr, `"nosuch-snap"`) || !strings.Contains(stderr, "not found") {
		t.Errorf("up with a missing snapshot: exit %d, stderr:\n%s", code, stderr)
	}
	e.mustStack("up", seeded, "--name", "aur-miss")
	if e.cluster(aurora.ClusterID("aur-miss", "db")) == nil {
		t.Error("no cluster after fixing the snapshot and running up again")
	}

	// down deletes clusters and instances.
	for _, name := range []string{"aur-min", "aur-prod", "aur-miss"} {
		e.mustStack("down", name)
		id := aurora.ClusterID(name, "db")
		if e.cluster(id) != nil || len(e.instanceClasses(id)) != 0 {
			t.Errorf("%s: cluster or instances left after down", name)
		}
	}
}

// rdsProxy forwards the SDK's RDS calls to moto and counts restores. While
// hold is set, it holds every DescribeDBClusters after a restore, so the
// handler sits in its wait loop as it would during a 30-minute AWS restore
// (moto finishes a restore at once).
type rdsProxy struct {
	moto     *httputil.ReverseProxy
	hold     atomic.Bool
	release  chan struct{}
	restores atomic.Int64
	held     atomic.Int64
}

func (p *rdsProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	form, _ := url.ParseQuery(string(body))
	switch form.Get("Action") {
	case "RestoreDBClusterFromSnapshot":
		p.restores.Add(1)
	case "DescribeDBClusters":
		if p.hold.Load() && p.restores.Load() > 0 {
			p.held.Add(1)
			select {
			case <-p.release:
			case <-r.Context().Done():
				return
			}
		}
	}
	p.moto.ServeHTTP(w, r)
}

// An up killed (SIGKILL) while the handler waits for the restored cluster
// resumes waiting on the next up: the snapshot is restored once.
func TestAuroraKilledWhileWaitingResumes(t *testing.T) {
	e := newAuroraE2E(t)
	target, _ := url.Parse(e.moto.Endpoint())
	p := &rdsProxy{moto: httputil.NewSingleHostReverseProxy(target), release: make(chan struct{})}
	p.hold.Store(true)
	srv := httptest.NewServer(p)
	defer srv.Close()
	defer func() {
		if p.hold.Swap(false) {
			close(p.release)
		}
	}()
	env := []string{"AWS_ENDPOINT_URL_RDS=" + srv.URL}
	def := e.definition("seeded")

	c := e.w.cmd(t.Context(), env, "up", def, "--name", "aur-kill")
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var s statusJSON
		if r := e.w.run("status", "aur-kill", "--output", "json"); r.code == 0 && json.Unmarshal([]byte(r.stdout), &s) == nil {
			if st := s.Steps["db"]; p.held.Load() > 0 && st != nil && strings.Contains(st.Progress, "restoring cluster") {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the handler never reached its wait loop (restores %d, held %d)", p.restores.Load(), p.held.Load())
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = c.Process.Signal(syscall.SIGKILL)
	_ = c.Wait()
	id := aurora.ClusterID("aur-kill", "db")
	created := *e.cluster(id).ClusterCreateTime

	p.hold.Store(false)
	close(p.release)
	r := e.w.runEnv(env, "up", def, "--name", "aur-kill")
	if r.code != 0 {
		t.Fatalf("up after the kill: exit %d\n%s", r.code, r.stderr)
	}
	if n := p.restores.Load(); n != 1 {
		t.Errorf("the snapshot was restored %d times, want once", n)
	}
	if !e.cluster(id).ClusterCreateTime.Equal(created) {
		t.Error("the resumed up replaced the cluster the killed one restored")
	}
	if !strings.Contains(r.stderr+r.stdout, "adopting cluster "+id) {
		t.Errorf("the resumed up does not say it adopted the cluster:\n%s", r.stderr)
	}
	if n := len(e.instanceClasses(id)); n != 1 {
		t.Errorf("%d instances after resuming, want the minimal profile's 1", n)
	}
	e.mustStack("down", "aur-kill")
	if e.cluster(id) != nil {
		t.Error("cluster left after down")
	}
}
