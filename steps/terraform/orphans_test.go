package terraform

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/stack-tools/stack/internal/testenv"
	"github.com/stack-tools/stack/stack"
)

// Resources tagged with a stack's identity that no state knows are found
// through the Resource Groups Tagging API (here moto's): orphans are named
// with their step; known ones, other stacks' and stacks without AWS modules
// are left out.
func TestFindOrphansThroughTheTaggingAPI(t *testing.T) {
	m, err := testenv.StartMoto()
	if err != nil {
		testenv.Missing(t, err)
	}
	t.Cleanup(m.Stop)
	for _, kv := range m.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	ctx := context.Background()
	api := s3.NewFromConfig(aws.Config{
		Region: "us-east-1", BaseEndpoint: aws.String(m.Endpoint()), Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
	}, func(o *s3.Options) { o.UsePathStyle = true })
	tagged := func(bucket, stackName, step string) {
		if _, err := api.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
			t.Fatal(err)
		}
		if _, err := api.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: aws.String(bucket), Tagging: &s3types.Tagging{TagSet: []s3types.Tag{
			{Key: aws.String(IdentityTagName), Value: aws.String(stackName)},
			{Key: aws.String(IdentityTagStep), Value: aws.String(step)},
		}}}); err != nil {
			t.Fatal(err)
		}
	}
	tagged("orphan-bucket", "bfcm", "queue")
	tagged("known-bucket", "bfcm", "queue")
	tagged("other-stack-bucket", "other", "queue")

	awsModule := t.TempDir()
	_ = os.WriteFile(filepath.Join(awsModule, "main.tf"), []byte("resource \"aws_s3_bucket\" \"b\" {}\n"), 0o644)
	localModule := t.TempDir()
	_ = os.WriteFile(filepath.Join(localModule, "main.tf"), []byte("resource \"terraform_data\" \"x\" {}\n"), 0o644)

	k := New(t.TempDir())
	got, err := k.FindOrphans(ctx, "bfcm", []string{localModule, awsModule}, map[string]bool{"arn:aws:s3:::known-bucket": true})
	if err != nil {
		t.Fatal(err)
	}
	want := []stack.Orphan{{ID: "arn:aws:s3:::orphan-bucket", Step: "queue"}}
	if len(got) != 1 || got[0] != want[0] {
		t.Errorf("orphans of bfcm = %+v, want %+v", got, want)
	}
	// A stack of local modules only never asks AWS (which it may not reach).
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
	if got, err := k.FindOrphans(ctx, "bfcm", []string{localModule}, nil); err != nil || got != nil {
		t.Errorf("local-only stack: %v, %v; want no lookup", got, err)
	}
}

// The identity input reaches modules that declare it, and only them.
func TestIdentityInput(t *testing.T) {
	run := &stack.StepRun{Stack: "bfcm", Step: "queue", Vars: map[string]any{}}
	with := t.TempDir()
	_ = os.WriteFile(filepath.Join(with, "variables.tf"), []byte("variable \"stack_identity\" {\n  default = null\n}\n"), 0o644)
	vars := map[string]any{}
	addIdentity(with, run, vars)
	if id, _ := vars[IdentityVar].(map[string]string); id["stack"] != "bfcm" || id["step"] != "queue" {
		t.Errorf("identity = %v", vars[IdentityVar])
	}
	vars = map[string]any{}
	addIdentity(t.TempDir(), run, vars)
	if len(vars) != 0 {
		t.Errorf("a module without the input got %v", vars)
	}
}
