package testenv

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// StartMinio gives a working server with its bucket; Kill takes it away and
// Start brings it back on the same endpoint with the data kept.
func TestMinioKillAndStartKeepsData(t *testing.T) {
	start := time.Now()
	m, err := StartMinio(t.TempDir())
	if err != nil {
		Missing(t, err)
	}
	defer m.Stop()
	t.Logf("started in %s", time.Since(start).Round(time.Millisecond))
	ctx := context.Background()
	c := m.Client()
	put := func() error {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(m.Bucket), Key: aws.String("k"), Body: strings.NewReader("v")})
		return err
	}
	if err := put(); err != nil {
		t.Fatal(err)
	}
	endpoint := m.Endpoint
	if err := m.Kill(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(m.Bucket)}, func(o *s3.Options) { o.RetryMaxAttempts = 1 }); err == nil {
		t.Fatal("server still answers after Kill")
	}
	start = time.Now()
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	t.Logf("restarted in %s", time.Since(start).Round(time.Millisecond))
	if m.Endpoint != endpoint {
		t.Fatalf("endpoint changed from %s to %s", endpoint, m.Endpoint)
	}
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(m.Bucket), Key: aws.String("k")}); err != nil {
		t.Fatalf("object lost across restart: %v", err)
	}
	env := strings.Join(m.Env(), "\n")
	for _, want := range []string{"AWS_ENDPOINT_URL_S3=" + m.Endpoint, "AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY=", "AWS_REGION="} {
		if !strings.Contains(env, want) {
			t.Errorf("Env() lacks %s", want)
		}
	}
}
