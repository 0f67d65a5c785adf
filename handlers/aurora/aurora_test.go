package aurora

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/stack-tools/stack/internal/testenv"
	"github.com/stack-tools/stack/stack"
)

// Snapshots the tests restore, created in moto by TestMain.
const (
	seededSnapshot = "seeded-snap"
	emptySnapshot  = "empty-snap"
)

// env is what TestMain set up; nil when moto_server is missing here.
type env struct {
	moto *testenv.Moto
	api  *rds.Client
}

var shared *env // set once by TestMain, read-only afterwards

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	moto, err := testenv.StartMoto()
	if err != nil {
		testenv.MissingMain(err)
		return m.Run()
	}
	defer moto.Stop()
	// The handler loads the SDK's default configuration, like the CLI does.
	for _, kv := range moto.Env() {
		k, v, _ := strings.Cut(kv, "=")
		os.Setenv(k, v)
	}
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	api := rds.NewFromConfig(cfg)
	if err := seedSnapshots(ctx, api); err != nil {
		fmt.Fprintf(os.Stderr, "create snapshots in moto: %v\n%s", err, moto.Output())
		return 1
	}
	shared = &env{moto: moto, api: api}
	return m.Run()
}

// seedSnapshots makes the source cluster and the snapshots users keep: one
// seeded with fixtures, one with an empty schema.
func seedSnapshots(ctx context.Context, api *rds.Client) error {
	_, err := api.CreateDBCluster(ctx, &rds.CreateDBClusterInput{
		DBClusterIdentifier: aws.String("fixtures-source"),
		Engine:              aws.String("aurora-postgresql"),
		EngineVersion:       aws.String("15.4"),
		MasterUsername:      aws.String("fixtures"),
		MasterUserPassword:  aws.String("not-a-secret-1"),
	})
	if err != nil {
		return err
	}
	for _, id := range []string{seededSnapshot, emptySnapshot} {
		if _, err := api.CreateDBClusterSnapshot(ctx, &rds.CreateDBClusterSnapshotInput{
			DBClusterIdentifier:         aws.String("fixtures-source"),
			DBClusterSnapshotIdentifier: aws.String(id),
		}); err != nil {
			return err
		}
	}
	return nil
}

func needMoto(t *testing.T) *env {
	t.Helper()
	if shared == nil {
		testenv.Missing(t, fmt.Errorf("moto_server did not start"))
	}
	return shared
}

func newHandler() *Handler {
	return New(Options{PollInterval: 5 * time.Millisecond, MaxPollInterval: 20 * time.Millisecond, Timeout: 10 * time.Second})
}

var snapshotVars = map[string]any{"aurora_snapshots": map[string]any{"seeded": seededSnapshot, "empty": emptySnapshot}}

// The configs the stack's profiles choose between.
const (
	minimalConfig    = `{"snapshot": "seeded", "engine": "aurora-postgresql", "instance_class": "db.t4g.medium", "instances": 1, "subnet_group": "${outputs.subnet_group}"}`
	productionConfig = `{"snapshot": "seeded", "engine": "aurora-postgresql", "instance_class": "db.r6g.large", "instances": 3, "subnet_group": "${outputs.subnet_group}"}`
)

// runLog is a HandlerRun with its progress lines and intermediate records kept.
type runLog struct {
	*stack.HandlerRun
	mu       sync.Mutex
	progress []string
	updates  []Record
}

// stackNames gives a test's stack a name of its own per run, so the clusters
// and automated snapshots moto keeps from an earlier run (go test -count=N)
// cannot collide with this one's.
var stackNames sync.Map // "<*testing.T> base" -> name

func sn(t *testing.T, base string) string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	key := fmt.Sprintf("%p %s", t, base)
	n, loaded := stackNames.LoadOrStore(key, base+"-"+hex.EncodeToString(b))
	if !loaded {
		t.Cleanup(func() { stackNames.Delete(key) }) // a later test may get the same *testing.T address
	}
	return n.(string)
}

func newRun(t *testing.T, stackName, cfg string, previous json.RawMessage) *runLog {
	t.Helper()
	outputs := stack.Outputs{"subnet_group": {Value: "default"}}
	r := &runLog{HandlerRun: stack.NewHandlerRun(stackName, "db", json.RawMessage(cfg), outputs, snapshotVars)}
	r.Owner = "alice"
	r.Previous = previous
	r.Progress = func(format string, args ...any) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.progress = append(r.progress, fmt.Sprintf(format, args...))
	}
	r.Update = func(raw json.RawMessage) error {
		rec, err := parseRecord(raw)
		if err != nil {
			t.Errorf("intermediate record: %v", err)
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		r.updates = append(r.updates, rec)
		return nil
	}
	return r
}

func (r *runLog) said(substr string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.progress {
		if strings.Contains(p, substr) {
			return true
		}
	}
	return false
}

func mustRun(t *testing.T, h *Handler, r *runLog) stack.HandlerResult {
	t.Helper()
	res, err := h.Run(context.Background(), r.HandlerRun)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return res
}

func cluster(t *testing.T, e *env, id string) *types.DBCluster {
	t.Helper()
	out, err := e.api.DescribeDBClusters(context.Background(), &rds.DescribeDBClustersInput{DBClusterIdentifier: aws.String(id)})
	if isClusterNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return &out.DBClusters[0]
}

// instances returns the cluster's instances by identifier.
func instances(t *testing.T, e *env, id string) map[string]types.DBInstance {
	t.Helper()
	out, err := e.api.DescribeDBInstances(context.Background(), &rds.DescribeDBInstancesInput{})
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]types.DBInstance{}
	for _, in := range out.DBInstances {
		if aws.ToString(in.DBClusterIdentifier) == id {
			m[aws.ToString(in.DBInstanceIdentifier)] = in
		}
	}
	return m
}

func clustersNamed(t *testing.T, e *env, prefix string) []string {
	t.Helper()
	out, err := e.api.DescribeDBClusters(context.Background(), &rds.DescribeDBClustersInput{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range out.DBClusters {
		if strings.HasPrefix(aws.ToString(c.DBClusterIdentifier), prefix) {
			ids = append(ids, aws.ToString(c.DBClusterIdentifier))
		}
	}
	sort.Strings(ids)
	return ids
}

func TestProfilesRestoreTheirInstanceCountAndClass(t *testing.T) {
	e := needMoto(t)
	h := newHandler()
	for _, tc := range []struct {
		stack, cfg, class string
		n                 int
	}{
		{"prof-minimal", minimalConfig, "db.t4g.medium", 1},
		{"prof-production", productionConfig, "db.r6g.large", 3},
	} {
		t.Run(tc.stack, func(t *testing.T) {
			r := newRun(t, tc.stack, tc.cfg, nil)
			res := mustRun(t, h, r)
			id := ClusterID(tc.stack, "db")
			cl := cluster(t, e, id)
			if cl == nil {
				t.Fatalf("no cluster %s in moto", id)
			}
			if got := aws.ToString(cl.Status); got != "available" {
				t.Errorf("cluster status %q, want available", got)
			}
			if got := tagValue(cl.TagList, tagStack); got != tc.stack {
				t.Errorf("cluster tag %s = %q, want %q", tagStack, got, tc.stack)
			}
			if got := tagValue(cl.TagList, tagOwner); got != "alice" {
				t.Errorf("cluster tag %s = %q, want alice", tagOwner, got)
			}
			ins := instances(t, e, id)
			if len(ins) != tc.n {
				t.Fatalf("%d instances, want %d: %v", len(ins), tc.n, ins)
			}
			for n := 1; n <= tc.n; n++ {
				in, ok := ins[instanceID(id, n)]
				if !ok {
					t.Fatalf("instance %s missing", instanceID(id, n))
				}
				if got := aws.ToString(in.DBInstanceClass); got != tc.class {
					t.Errorf("instance %s class %q, want %q", instanceID(id, n), got, tc.class)
				}
				if got := tagValue(in.TagList, tagStack); got != tc.stack {
					t.Errorf("instance tag %s = %q", tagStack, got)
				}
			}
			want := stack.Outputs{
				"endpoint":        {Value: aws.ToString(cl.Endpoint)},
				"reader_endpoint": {Value: aws.ToString(cl.ReaderEndpoint)},
				"port":            {Value: int(aws.ToInt32(cl.Port))},
				"cluster_id":      {Value: id},
			}
			if fmt.Sprint(res.Outputs) != fmt.Sprint(want) {
				t.Errorf("outputs %v, want %v", res.Outputs, want)
			}
			if res.Outputs["endpoint"].Value == "" || res.Outputs["port"].Value == 0 {
				t.Errorf("empty endpoint or port: %v", res.Outputs)
			}
			rec, _ := parseRecord(res.Record)
			if rec.ClusterID != id || len(rec.Instances) != tc.n || rec.Status != "available" || snapshotName(rec.Snapshot) != seededSnapshot {
				t.Errorf("record %+v", rec)
			}
			if len(r.updates) == 0 || r.updates[0].ClusterID != id || r.updates[0].Snapshot == "" {
				t.Errorf("no intermediate record naming the cluster and snapshot right after the restore: %+v", r.updates)
			}
			if !r.said("restoring cluster " + id + ": status") {
				t.Errorf("no progress about the restore: %q", r.progress)
			}
		})
	}
}

func TestRerunAdoptsTheClusterAndCreatesNothing(t *testing.T) {
	e := needMoto(t)
	h := newHandler()
	first := mustRun(t, h, newRun(t, "adopt", minimalConfig, nil))
	id := ClusterID("adopt", "db")
	created := cluster(t, e, id).ClusterCreateTime
	writer := instances(t, e, id)[instanceID(id, 1)].InstanceCreateTime

	r := newRun(t, "adopt", minimalConfig, first.Record)
	again := mustRun(t, h, r)
	if got := clustersNamed(t, e, "adopt-"); len(got) != 1 {
		t.Fatalf("clusters %v, want exactly one", got)
	}
	if !cluster(t, e, id).ClusterCreateTime.Equal(*created) {
		t.Error("the cluster was restored again")
	}
	if ins := instances(t, e, id); len(ins) != 1 || !ins[instanceID(id, 1)].InstanceCreateTime.Equal(*writer) {
		t.Errorf("instances changed on re-run: %v", ins)
	}
	if fmt.Sprint(again.Outputs) != fmt.Sprint(first.Outputs) {
		t.Errorf("outputs changed: %v, then %v", first.Outputs, again.Outputs)
	}
	if !r.said("adopting cluster " + id) {
		t.Errorf("no progress line about adopting: %q", r.progress)
	}

	// Switching to the production profile adds only the missing readers.
	mustRun(t, h, newRun(t, "adopt", strings.Replace(minimalConfig, `"instances": 1`, `"instances": 2`, 1), again.Record))
	ins := instances(t, e, id)
	if len(ins) != 2 || !ins[instanceID(id, 1)].InstanceCreateTime.Equal(*writer) {
		t.Errorf("want the writer kept and one reader added, got %v", ins)
	}
}

// Going from the production profile to minimal on the same stack keeps the
// writer (resized) and removes the readers.
func TestProfileChangeResizesInPlace(t *testing.T) {
	e := needMoto(t)
	h := newHandler()
	prod := mustRun(t, h, newRun(t, "shrink", productionConfig, nil))
	id := ClusterID("shrink", "db")
	created := *cluster(t, e, id).ClusterCreateTime
	res := mustRun(t, h, newRun(t, "shrink", minimalConfig, prod.Record))
	ins := instances(t, e, id)
	if len(ins) != 1 {
		t.Fatalf("%d instances after switching to minimal, want 1: %v", len(ins), ins)
	}
	if got := aws.ToString(ins[instanceID(id, 1)].DBInstanceClass); got != "db.t4g.medium" {
		t.Errorf("writer class %s, want db.t4g.medium", got)
	}
	if !cluster(t, e, id).ClusterCreateTime.Equal(created) {
		t.Error("the cluster was restored again")
	}
	if rec, _ := parseRecord(res.Record); len(rec.Instances) != 1 {
		t.Errorf("record instances %v", rec.Instances)
	}
}

// A clone someone stopped overnight is started again by the next run.
func TestStoppedClusterIsStarted(t *testing.T) {
	e := needMoto(t)
	h := newHandler()
	first := mustRun(t, h, newRun(t, "stopped", minimalConfig, nil))
	id := ClusterID("stopped", "db")
	if _, err := e.api.StopDBCluster(context.Background(), &rds.StopDBClusterInput{DBClusterIdentifier: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	r := newRun(t, "stopped", minimalConfig, first.Record)
	mustRun(t, h, r)
	if got := aws.ToString(cluster(t, e, id).Status); got != "available" {
		t.Errorf("cluster status %q after the run, want available", got)
	}
	if !r.said("starting stopped cluster " + id) {
		t.Errorf("no progress line about starting the cluster: %q", r.progress)
	}
}

// A snapshot identifier that is not a name in the map is used as is; the
// cluster remembers the snapshot's ARN, and a re-run naming it by identifier
// adopts the cluster. (moto cannot look snapshots up by ARN; AWS can.)
func TestExplicitSnapshotIdentifier(t *testing.T) {
	e := needMoto(t)
	h := newHandler()
	out, err := e.api.DescribeDBClusterSnapshots(context.Background(), &rds.DescribeDBClusterSnapshotsInput{DBClusterSnapshotIdentifier: aws.String(seededSnapshot)})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(out.DBClusterSnapshots[0].DBClusterSnapshotArn)
	byID := strings.Replace(minimalConfig, `"seeded"`, `"`+seededSnapshot+`"`, 1)
	outputs := stack.Outputs{"subnet_group": {Value: "default"}}
	res, err := h.Run(context.Background(), stack.NewHandlerRun("byid", "db", json.RawMessage(byID), outputs, nil))
	if err != nil {
		t.Fatal(err)
	}
	id := ClusterID("byid", "db")
	if got := tagValue(cluster(t, e, id).TagList, tagSnapshot); got != arn {
		t.Errorf("cluster tagged with snapshot %q, want %q", got, arn)
	}
	again := stack.NewHandlerRun("byid", "db", json.RawMessage(byID), outputs, nil)
	again.Previous = res.Record
	if _, err := h.Run(context.Background(), again); err != nil {
		t.Errorf("re-run naming the same snapshot: %v", err)
	}
	for _, tc := range []struct {
		recorded, wanted string
		same             bool
	}{
		{arn, seededSnapshot, true},
		{arn, arn, true},
		{arn, emptySnapshot, false},
		{arn, strings.Replace(arn, "123456789012", "210987654321", 1), false},
	} {
		if got := sameSnapshot(tc.recorded, tc.wanted); got != tc.same {
			t.Errorf("sameSnapshot(%q, %q) = %v", tc.recorded, tc.wanted, got)
		}
	}
}

func TestSwitchedSnapshotNeedsReplace(t *testing.T) {
	e := needMoto(t)
	h := newHandler()
	first := mustRun(t, h, newRun(t, sn(t, "switch"), minimalConfig, nil))
	id := ClusterID(sn(t, "switch"), "db")
	created := *cluster(t, e, id).ClusterCreateTime

	emptyCfg := strings.Replace(minimalConfig, `"seeded"`, `"empty"`, 1)
	_, err := h.Run(context.Background(), newRun(t, sn(t, "switch"), emptyCfg, first.Record).HandlerRun)
	if err == nil {
		t.Fatal("switching the snapshot without --replace succeeded")
	}
	for _, want := range []string{id, seededSnapshot, emptySnapshot, "stack rerun-step " + sn(t, "switch") + " db --replace"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if !cluster(t, e, id).ClusterCreateTime.Equal(created) {
		t.Error("the refused run changed the cluster")
	}

	time.Sleep(10 * time.Millisecond) // creation times must differ
	forgetAutomatedBackups(t, e, id)
	r := newRun(t, sn(t, "switch"), emptyCfg, first.Record)
	r.Replace = true
	res := mustRun(t, h, r)
	cl := cluster(t, e, id)
	if cl.ClusterCreateTime.Equal(created) {
		t.Error("--replace kept the old cluster")
	}
	if got := snapshotName(tagValue(cl.TagList, tagSnapshot)); got != emptySnapshot {
		t.Errorf("replaced cluster restored from %q, want %q", got, emptySnapshot)
	}
	if rec, _ := parseRecord(res.Record); snapshotName(rec.Snapshot) != emptySnapshot {
		t.Errorf("record snapshot %q", rec.Snapshot)
	}
	if len(instances(t, e, id)) != 1 {
		t.Errorf("instances after replace: %v", instances(t, e, id))
	}
}

func TestMissingSnapshotFailsWithTheFix(t *testing.T) {
	e := needMoto(t)
	h := newHandler()
	for _, tc := range []struct {
		name, cfg string
		vars      map[string]any
		want      []string
	}{
		{"unknown name", strings.Replace(minimalConfig, `"seeded"`, `"seded"`, 1), snapshotVars,
			[]string{`"seded"`, "not found", "aurora_snapshots", "empty, seeded"}},
		{"map points nowhere", minimalConfig, map[string]any{"aurora_snapshots": map[string]any{"seeded": "deleted-snap"}},
			[]string{`"deleted-snap"`, "seeded", "not found", "variable aurora_snapshots"}},
		{"no map", strings.Replace(minimalConfig, `"seeded"`, `"nosuch-snap"`, 1), nil,
			[]string{`"nosuch-snap"`, "not found", "us-east-1", "aurora_snapshots"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stackName := "missing-" + strings.ReplaceAll(tc.name, " ", "-")
			r := newRun(t, stackName, tc.cfg, nil)
			r.HandlerRun = stack.NewHandlerRun(stackName, "db", json.RawMessage(tc.cfg), stack.Outputs{"subnet_group": {Value: "default"}}, tc.vars)
			_, err := h.Run(context.Background(), r.HandlerRun)
			if err == nil {
				t.Fatal("restoring a missing snapshot succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if got := clustersNamed(t, e, stackName); len(got) != 0 {
				t.Errorf("clusters left behind: %v", got)
			}
		})
	}
}

func TestEngineMismatchNamesBothEngines(t *testing.T) {
	e := needMoto(t)
	cfg := strings.Replace(minimalConfig, "aurora-postgresql", "aurora-mysql", 1)
	_, err := newHandler().Run(context.Background(), newRun(t, "engine", cfg, nil).HandlerRun)
	if err == nil {
		t.Fatal("restoring a PostgreSQL snapshot as MySQL succeeded")
	}
	for _, w := range []string{seededSnapshot, "aurora-postgresql", `"engine": "aurora-postgresql"`} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
	if got := clustersNamed(t, e, "engine-"); len(got) != 0 {
		t.Errorf("clusters left behind: %v", got)
	}
}

// A run stopped while it waits (killed, Ctrl-C) has stored a record; the next
// run resumes waiting on the same cluster instead of restoring again.
func TestInterruptedRestoreResumes(t *testing.T) {
	e := needMoto(t)
	h := newHandler()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first := newRun(t, "resume", productionConfig, nil)
	var intermediate json.RawMessage
	first.Update = func(raw json.RawMessage) error {
		if intermediate == nil {
			intermediate = raw
			cancel() // the user hits Ctrl-C right after the restore started
		}
		return nil
	}
	_, err := h.Run(ctx, first.HandlerRun)
	if err == nil || !strings.Contains(err.Error(), "stack up") {
		t.Fatalf("cancelled run: err %v, want one that says to run `stack up` again", err)
	}
	id := ClusterID("resume", "db")
	cl := cluster(t, e, id)
	if cl == nil {
		t.Fatal("the cancelled run did not start the restore")
	}
	created := *cl.ClusterCreateTime
	rec, err := parseRecord(intermediate)
	if err != nil || rec.ClusterID != id || rec.Started.IsZero() || rec.Status == "" {
		t.Fatalf("intermediate record %s (%v)", intermediate, err)
	}

	second := newRun(t, "resume", productionConfig, intermediate)
	res := mustRun(t, h, second)
	if got := clustersNamed(t, e, "resume-"); len(got) != 1 {
		t.Errorf("clusters %v, want one", got)
	}
	if !cluster(t, e, id).ClusterCreateTime.Equal(created) {
		t.Error("the resumed run restored the snapshot again")
	}
	if n := len(instances(t, e, id)); n != 3 {
		t.Errorf("%d instances after resuming, want 3", n)
	}
	final, _ := parseRecord(res.Record)
	if !final.Started.Equal(rec.Started) {
		t.Errorf("resumed record started %v, the restore started %v", final.Started, rec.Started)
	}
}

func TestTeardownDeletesEverything(t *testing.T) {
	e := needMoto(t)
	h := newHandler()
	r := newRun(t, sn(t, "down"), productionConfig, nil)
	res := mustRun(t, h, r)
	id := ClusterID(sn(t, "down"), "db")
	if err := h.Teardown(context.Background(), r.HandlerRun, res.Record); err != nil {
		t.Fatalf("Teardown: %v", err)
	}
	if cluster(t, e, id) != nil {
		t.Error("cluster still exists")
	}
	if ins := instances(t, e, id); len(ins) != 0 {
		t.Errorf("instances left: %v", ins)
	}
	if snaps := finalSnapshots(t, e, id); len(snaps) != 0 {
		t.Errorf("final snapshot kept without final_snapshot: %v", snaps)
	}
	// down again, or after someone deleted it by hand
	if err := h.Teardown(context.Background(), r.HandlerRun, res.Record); err != nil {
		t.Errorf("second Teardown: %v", err)
	}
}

func TestTeardownKeepsFinalSnapshotWhenAsked(t *testing.T) {
	e := needMoto(t)
	h := newHandler()
	cfg := strings.Replace(minimalConfig, `"instances": 1`, `"instances": 1, "final_snapshot": true`, 1)
	r := newRun(t, sn(t, "keep"), cfg, nil)
	res := mustRun(t, h, r)
	id := ClusterID(sn(t, "keep"), "db")
	if err := h.Teardown(context.Background(), r.HandlerRun, res.Record); err != nil {
		t.Fatalf("Teardown: %v", err)
	}
	if cluster(t, e, id) != nil {
		t.Error("cluster still exists")
	}
	if snaps := finalSnapshots(t, e, id); len(snaps) != 1 {
		t.Errorf("final snapshots %v, want one", snaps)
	}
}

// A run killed before it stored any record leaves a cluster that down must
// still find.
func TestTeardownWithoutRecordFindsTheCluster(t *testing.T) {
	e := needMoto(t)
	h := newHandler()
	mustRun(t, h, newRun(t, sn(t, "norecord"), minimalConfig, nil))
	id := ClusterID(sn(t, "norecord"), "db")
	if err := h.Teardown(context.Background(), newRun(t, sn(t, "norecord"), minimalConfig, nil).HandlerRun, nil); err != nil {
		t.Fatalf("Teardown: %v", err)
	}
	if cluster(t, e, id) != nil || len(instances(t, e, id)) != 0 {
		t.Error("cluster or instances left")
	}
}

// forgetAutomatedBackups deletes the automated snapshots moto keeps after
// deleting a cluster (AWS deletes them with the cluster): moto names them by
// the minute, so restoring the same cluster again within a minute would fail.
func forgetAutomatedBackups(t *testing.T, e *env, id string) {
	t.Helper()
	out, err := e.api.DescribeDBClusterSnapshots(context.Background(), &rds.DescribeDBClusterSnapshotsInput{
		DBClusterIdentifier: aws.String(id), SnapshotType: aws.String("automated"),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range out.DBClusterSnapshots {
		if _, err := e.api.DeleteDBClusterSnapshot(context.Background(), &rds.DeleteDBClusterSnapshotInput{
			DBClusterSnapshotIdentifier: s.DBClusterSnapshotIdentifier,
		}); err != nil {
			t.Fatal(err)
		}
	}
}

func finalSnapshots(t *testing.T, e *env, id string) []string {
	t.Helper()
	out, err := e.api.DescribeDBClusterSnapshots(context.Background(), &rds.DescribeDBClusterSnapshotsInput{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range out.DBClusterSnapshots {
		if strings.HasPrefix(aws.ToString(s.DBClusterSnapshotIdentifier), id+"-final-") {
			ids = append(ids, aws.ToString(s.DBClusterSnapshotIdentifier))
		}
	}
	return ids
}

// The handler never adopts or deletes a cluster another stack (or a human) made.
func TestForeignClusterIsLeftAlone(t *testing.T) {
	e := needMoto(t)
	h := newHandler()
	cfg := strings.Replace(minimalConfig, `"instances": 1`, `"instances": 1, "cluster_id": "fixtures-source"`, 1)
	r := newRun(t, "intruder", cfg, nil)
	_, err := h.Run(context.Background(), r.HandlerRun)
	if err == nil || !strings.Contains(err.Error(), "fixtures-source") || !strings.Contains(err.Error(), `"cluster_id"`) {
		t.Fatalf("adopting a foreign cluster: err %v, want one naming it and cluster_id", err)
	}
	err = h.Teardown(context.Background(), r.HandlerRun, json.RawMessage(`{"cluster_id": "fixtures-source", "status": "available"}`))
	if err == nil {
		t.Error("Teardown deleted a cluster the stack did not make")
	}
	if cluster(t, e, "fixtures-source") == nil {
		t.Fatal("the foreign cluster was deleted")
	}
}

func TestValidateNamesTheField(t *testing.T) {
	for _, tc := range []struct{ cfg, want string }{
		{`{"engine": "aurora-postgresql", "instance_class": "db.r6g.large"}`, `missing "snapshot"`},
		{`{"snapshot": "seeded", "instance_class": "db.r6g.large"}`, `missing "engine"`},
		{`{"snapshot": "seeded", "engine": "postgres", "instance_class": "db.r6g.large"}`, `"engine" is "postgres"`},
		{`{"snapshot": "seeded", "engine": "aurora-mysql"}`, `missing "instance_class"`},
		{`{"snapshot": "seeded", "engine": "aurora-mysql", "instance_class": "r6g.large"}`, `"instance_class" is "r6g.large"`},
		{`{"snapshot": "seeded", "engine": "aurora-mysql", "instance_class": "db.r6g.large", "instances": 17}`, `"instances" is 17`},
		{`{"snapshot": "seeded", "engine": "aurora-mysql", "instance_class": "db.r6g.large", "instances": "two"}`, `"instances" must be a whole number`},
		{`{"snapshot": "seeded", "engine": "aurora-mysql", "instance_class": "db.r6g.large", "security_groups": "sg-1"}`, `"security_groups" must be a list of strings`},
		{`{"snapshot": "seeded", "engine": "aurora-mysql", "instance_class": "db.r6g.large", "cluster_id": "1-bad--id"}`, `"cluster_id" is "1-bad--id"`},
		{`{"snapshot": "seeded", "engine": "aurora-mysql", "instance_class": "db.r6g.large", "instance": 2}`, `unknown field "instance"`},
	} {
		err := New(Options{}).Validate(json.RawMessage(tc.cfg))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate(%s) = %v, want an error containing %s", tc.cfg, err, tc.want)
		}
	}
	ok := `{"snapshot": "${var.db_snapshot}", "engine": "aurora-postgresql", "instance_class": "db.r6g.large", "instances": 3,
		"subnet_group": "${outputs.subnet_group}", "security_groups": "${outputs.security_group_ids}", "parameter_group": "${outputs.pg}",
		"final_snapshot": true, "snapshots": "${var.aurora_snapshots}"}`
	if err := New(Options{}).Validate(json.RawMessage(ok)); err != nil {
		t.Errorf("Validate(%s) = %v", ok, err)
	}
}

// A stack that has an aurora step in its definition but never reaches it (or
// only validates) must not need AWS credentials.
func TestValidationNeedsNoAWS(t *testing.T) {
	h := New(Options{LoadConfig: func(context.Context) (aws.Config, error) {
		t.Error("AWS configuration loaded during validation")
		return aws.Config{}, fmt.Errorf("no AWS here")
	}})
	if err := h.Validate(json.RawMessage(minimalConfig)); err != nil {
		t.Fatal(err)
	}
	if got := h.OutputNames(json.RawMessage(minimalConfig)); len(got) != 4 {
		t.Errorf("OutputNames = %v", got)
	}
}

func TestClusterIDsAreValidAndDistinct(t *testing.T) {
	valid := regexp.MustCompile(`^[a-z](?:[a-z0-9]|-[a-z0-9]){0,62}$`)
	long := strings.Repeat("x", 40)
	seen := map[string]string{}
	for _, p := range [][2]string{{"a-b", "c"}, {"a", "b-c"}, {"bfcm", "db"}, {"bfcm-2", "db"}, {long, long}, {long, long[:39] + "y"}} {
		id := ClusterID(p[0], p[1])
		if !valid.MatchString(instanceID(id, maxInstances)) {
			t.Errorf("ClusterID(%q, %q) = %q: its instances' identifiers are not valid RDS identifiers", p[0], p[1], id)
		}
		if other, dup := seen[id]; dup {
			t.Errorf("ClusterID(%q, %q) = %q collides with %s", p[0], p[1], id, other)
		}
		seen[id] = p[0] + "/" + p[1]
		if ClusterID(p[0], p[1]) != id {
			t.Errorf("ClusterID(%q, %q) is not deterministic", p[0], p[1])
		}
	}
}
