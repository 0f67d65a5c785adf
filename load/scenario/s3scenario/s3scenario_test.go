package s3scenario_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/stack-tools/stack/internal/testenv"
	"github.com/stack-tools/stack/load"
	"github.com/stack-tools/stack/load/pace"
	"github.com/stack-tools/stack/load/scenario"
	"github.com/stack-tools/stack/load/scenario/s3scenario"
)

// A scenario kept in S3 loads like a folder, and a run reloading it picks up
// a template edited in the bucket.
func TestScenarioFromS3ReloadsEditedTemplates(t *testing.T) {
	m, err := testenv.StartMinio(t.TempDir())
	if err != nil {
		testenv.Missing(t, err)
	}
	t.Cleanup(func() { _ = m.Stop() })
	for _, kv := range append(m.Env(), "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null") {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	ctx := context.Background()
	put := func(key, body string) {
		t.Helper()
		if _, err := m.Client().PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(m.Bucket), Key: aws.String(key), Body: strings.NewReader(body)}); err != nil {
			t.Fatal(err)
		}
	}
	put("scenarios/ping/scenario.json", `{"name": "ping", "types": [{"name": "ping", "weight": 1, "body": "ping.tmpl"}]}`)
	put("scenarios/ping/ping.tmpl", `v1 {{.MessageID}}`)
	put("scenarios/ping/nested/other.tmpl", `not part of the folder`)
	uri := "s3://" + m.Bucket + "/scenarios/ping"
	sc, err := s3scenario.Load(ctx, uri)
	if err != nil {
		t.Fatal(err)
	}
	if sc.Name != "ping" || sc.Source != uri {
		t.Fatalf("loaded %q from %q", sc.Name, sc.Source)
	}
	if _, err := s3scenario.Load(ctx, "s3://"+m.Bucket+"/scenarios/none"); err == nil || !strings.Contains(err.Error(), "scenario.json") {
		t.Errorf("an empty prefix: err = %v, want it to name scenario.json", err)
	}

	var mu sync.Mutex
	seen := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen[strings.Fields(string(b))[0]]++
		mu.Unlock()
	}))
	defer srv.Close()
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, err := load.Run(runCtx, load.Config{Scenario: sc, Target: srv.URL, Rate: pace.Spec{Rate: 100}, Duration: 2 * time.Minute,
			Reload: &load.Reload{Every: 100 * time.Millisecond, Load: func(ctx context.Context) (*scenario.Scenario, error) { return s3scenario.Load(ctx, uri) }}})
		if err != nil {
			t.Error(err)
		}
	}()
	put("scenarios/ping/ping.tmpl", `v2 {{.MessageID}}`)
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := seen["v2"]
		mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no body from the edited template within 30s: %v", seen)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done
}
