package generator_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stack-tools/stack/internal/testenv"
	"github.com/stack-tools/stack/steps/generator"
)

func TestValidateFleetMetricsReloadAndBatchFields(t *testing.T) {
	k := generator.New()
	base := `"scenario":"sms-inbound","rate":1,"duration":"1s"`
	bad := map[string]struct{ cfg, want string }{
		"workers without group": {`{` + base + `,"target":"http://x","workers":{"count":3}}`, "workers.group is required"},
		"workers count":         {`{` + base + `,"target":"http://x","workers":{"group":"g","count":0}}`, "workers.count 0"},
		"workers slash":         {`{` + base + `,"target":"http://x","workers":{"group":"a/b","count":2}}`, "without slashes"},
		"reload with workers":   {`{` + base + `,"target":"http://x","reload":"30s","workers":{"group":"g","count":2}}`, "not available with \"workers\""},
		"batch":                 {`{` + base + `,"target":"sqs://sqs.us-east-1.amazonaws.com/1/q","batch":11}`, "1 to 10"},
		"unknown workers field": {`{` + base + `,"target":"http://x","workers":{"group":"g","count":2,"size":3}}`, `unknown field "size"`},
	}
	for name, c := range bad {
		if err := k.Validate(json.RawMessage(c.cfg)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to mention %s", name, err, c.want)
		}
	}
	for _, ok := range []string{
		`{` + base + `,"target":"sqs://https://sqs.us-east-1.amazonaws.com/123456789012/inbound","batch":10,"batch_wait":"10ms"}`,
		`{` + base + `,"target":"http://x","workers":{"group":"${stack.name}","count":3,"zookeeper":"${var.zk}","timeout":"2m"},"metrics_addr":":9464"}`,
		`{` + base + `,"target":"http://x","reload":"30s"}`,
	} {
		if err := k.Validate(json.RawMessage(ok)); err != nil {
			t.Errorf("%s rejected: %v", ok, err)
		}
	}
}

// `stack up --metrics-addr` serves the generator step's live metrics while it runs.
func TestUpServesGeneratorMetrics(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	work := t.TempDir()
	writeJSON(t, filepath.Join(work, "metrics.json"), map[string]any{
		"name": "metrics",
		"steps": []any{map[string]any{"name": "load", "kind": "generator", "scenario": "sms-inbound",
			"target": srv.URL, "rate": 20, "duration": "10m"}},
	})
	port, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	state := filepath.Join(work, "state")
	home := filepath.Join(work, "home")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	up := exec.CommandContext(ctx, stackBin, "up", "metrics.json", "--metrics-addr", addr)
	up.Dir = work
	up.Env = append(os.Environ(), "STACK_STATE="+state, "HOME="+home, "XDG_CACHE_HOME="+filepath.Join(home, ".cache"))
	var errb bytes.Buffer
	up.Stderr = &errb
	if err := up.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = up.Process.Signal(syscall.SIGINT)
		_ = up.Wait()
	}()
	deadline := time.Now().Add(90 * time.Second)
	for {
		body := scrape("http://" + addr + "/metrics")
		if strings.Contains(body, `stack_load_responses_total{code="200",type=`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no responses counted at %s/metrics within 90s:\n%s", addr, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func scrape(url string) string {
	resp, err := http.Get(url)
	if err != nil {
		return fmt.Sprint(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
