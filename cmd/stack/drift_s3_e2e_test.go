package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/stack-tools/stack/internal/testenv"
	"github.com/stack-tools/stack/state"
)

// objectVersions lists every object under the test's store prefix with its
// ETag, read with the test's own client: equal lists mean nothing was written.
func objectVersions(t *testing.T, m *testenv.Minio) []string {
	t.Helper()
	var out []string
	pages := s3.NewListObjectsV2Paginator(m.Client(), &s3.ListObjectsV2Input{Bucket: aws.String(m.Bucket), Prefix: aws.String(s3Prefix(t) + "/")})
	for pages.HasMorePages() {
		page, err := pages.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			out = append(out, aws.ToString(o.Key)+" "+aws.ToString(o.ETag))
		}
	}
	sort.Strings(out)
	return out
}

// Acceptance, on S3: while workstation A's lease is held, workstation B's
// `stack plan` runs Terraform against the S3 backend, reports, and writes
// nothing: no record, no state, no Terraform lock file.
func TestS3PlanWhileAnotherWorkstationHoldsTheLease(t *testing.T) {
	m, stateDir := startS3(t)
	a := s3Workstation(t, m, stateDir, "alice")
	b := s3Workstation(t, m, stateDir, "bob")
	tmp := t.TempDir()
	repo := filepath.Join(repoRoot(t), "modules", "local")
	defText := func(cidr string) string {
		return `{"name": "s3plan", "variables": {"cidr": "` + cidr + `"}, "steps": [
  {"name": "network", "module": "` + repo + `/network", "vars": {"stack_name": "${stack.name}", "cidr": "${var.cidr}"}},
  {"name": "cache", "module": "` + repo + `/cache", "vars": {"subnet_ids": "${steps.network.outputs.private_subnet_ids}"}}]}`
	}
	def := writeFile(t, filepath.Join(tmp, "s3plan.json"), defText("10.42.0.0/16"))
	a.must("up", def)

	now := time.Now().UTC()
	lease, _ := json.Marshal(state.Lease{ID: "alice-elsewhere", User: "alice", Host: "workstation-a", PID: 4242, Command: "up", Started: now, Expires: now.Add(time.Hour)})
	leaseKey := aws.String(s3Prefix(t) + "/stacks/s3plan/lease.json")
	if _, err := m.Client().PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(m.Bucket),
		Key: leaseKey, Body: strings.NewReader(string(lease))}); err != nil {
		t.Fatal(err)
	}
	if r := b.run("up", def); r.code != 1 || !strings.Contains(r.stderr, "locked by alice@workstation-a") {
		t.Fatalf("B's up while A holds the lease: exit %d\n%s", r.code, r.stderr)
	}
	before := objectVersions(t, m)
	code, rep := b.plan("s3plan")
	wantStatuses(t, "B while A holds the lease", code, rep, 0, map[string]string{"network": "unchanged", "cache": "unchanged"})
	def2 := writeFile(t, filepath.Join(tmp, "s3plan2.json"), defText("10.43.0.0/16"))
	code, rep = b.plan("s3plan", def2)
	wantStatuses(t, "B with a changed var", code, rep, 2, map[string]string{"network": "code changed", "cache": "code changed"})
	if after := objectVersions(t, m); strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Errorf("plan wrote to the bucket:\nbefore:\n%s\nafter:\n%s", strings.Join(before, "\n"), strings.Join(after, "\n"))
	}
	noStateOrSecret(t, b.home, m.SecretKey)

	// A's command ends; B can take the stack down (and the next run of this test starts clean).
	if _, err := m.Client().DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String(m.Bucket), Key: leaseKey}); err != nil {
		t.Fatal(err)
	}
	b.must("down", "s3plan")
}
