package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// A wrong broker flag is a usage error (exit 2) that names the flag.
func TestLoadKafkaFlagErrors(t *testing.T) {
	w := newWorkstation(t, t.TempDir())
	for flag, want := range map[string]string{
		"--kafka-acks=some":       `--kafka-acks "some": use all`,
		"--kafka-compression=rar": `--kafka-compression "rar"`,
		"--kafka-key={{.Sender":   `--kafka-key`,
		"--kafka-batch-bytes=-1":  `--kafka-batch-bytes must be positive`,
	} {
		r := w.run("load", "--scenario", "sms-inbound", "--target", "kafka://127.0.0.1:1/t", "--rate", "1", "--requests", "1", flag)
		if r.code != 2 || !strings.Contains(r.stderr, want) {
			t.Errorf("%s: exit %d, stderr %q; want 2 and %q", flag, r.code, r.stderr, want)
		}
	}
}

// --senders-file sends as the listed senders only; a bad list is a usage
// error (exit 2) naming the file and its bad lines, and nothing is sent.
func TestLoadSendersFile(t *testing.T) {
	var mu sync.Mutex
	from := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		mu.Lock()
		from[r.PostForm.Get("From")]++
		mu.Unlock()
	}))
	defer srv.Close()
	dir := t.TempDir()
	good := filepath.Join(dir, "numbers.csv")
	bad := filepath.Join(dir, "bad.csv")
	if err := os.WriteFile(good, []byte("phone,name\n+15550100001,Ada\n+15550100002,Alan\n+15550100003,Grace\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("phone,name\n+15550100001,Ada\n5550100,Bob\n+15550100001,Ada again\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	w := newWorkstation(t, t.TempDir())
	args := []string{"load", "--scenario", "sms-inbound", "--target", srv.URL + "/sms", "--rate", "200", "--requests", "60", "--report-dir", ""}
	r := w.run(append(args, "--senders-file", bad)...)
	if r.code != 2 || !strings.Contains(r.stderr, "line 3: phone \"5550100\" is not in E.164") || !strings.Contains(r.stderr, "line 4: phone +15550100001 repeats line 2") {
		t.Errorf("bad list: exit %d\n%s", r.code, r.stderr)
	}
	mu.Lock()
	if len(from) != 0 {
		t.Errorf("a bad list still sent %v", from)
	}
	mu.Unlock()
	w.must(append(args, "--senders-file", good)...)
	mu.Lock()
	defer mu.Unlock()
	total := 0
	for f, n := range from {
		if !strings.HasPrefix(f, "+1555010000") {
			t.Errorf("%d messages from %q, not a listed sender", n, f)
		}
		total += n
	}
	if total != 60 || len(from) < 2 {
		t.Errorf("from %v", from)
	}
}
