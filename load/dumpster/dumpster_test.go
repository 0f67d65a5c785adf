package dumpster_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/stack-tools/stack/load/dumpster"
)

func serve(t *testing.T, raw bool) (string, *dumpster.Server) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &dumpster.Server{}
	done := make(chan struct{})
	go func() {
		if raw {
			s.ServeRaw(ctx, l)
		} else {
			s.Serve(ctx, l)
		}
		close(done)
	}()
	t.Cleanup(func() { cancel(); <-done })
	return "http://" + l.Addr().String(), s
}

// Both sinks accept keep-alive POSTs from net/http's client and discard them.
func TestSinksAcceptAndDiscard(t *testing.T) {
	for _, raw := range []bool{false, true} {
		url, _ := serve(t, raw)
		for i := 0; i < 5; i++ {
			resp, err := http.Post(url+"/webhooks/sms", "application/x-www-form-urlencoded", strings.NewReader("From=%2B1555&Body=STOP"))
			if err != nil {
				t.Fatalf("raw=%v: %v", raw, err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || len(b) != 0 {
				t.Errorf("raw=%v: status %d body %q", raw, resp.StatusCode, b)
			}
		}
	}
	url, _ := serve(t, false)
	http.Post(url, "text/plain", strings.NewReader("12345"))
	resp, err := http.Get(url + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	var stats map[string]uint64
	json.NewDecoder(resp.Body).Decode(&stats)
	if stats["requests"] != 1 || stats["bytes"] != 5 {
		t.Errorf("stats %v, want 1 request of 5 bytes", stats)
	}
}

// The raw sink answers pipelined requests in order and refuses chunked bodies.
func TestRawSinkPipelinesAndRefusesChunked(t *testing.T) {
	url, _ := serve(t, true)
	c, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
	io.WriteString(c, req+req+"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
	all, _ := io.ReadAll(c)
	got := string(all)
	if strings.Count(got, "200 OK") != 2 || !strings.HasSuffix(got, "Connection: close\r\n\r\n") || !strings.Contains(got, "400") {
		t.Errorf("responses:\n%s", got)
	}
}
