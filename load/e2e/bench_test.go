package e2e_test

import (
	"runtime"
	"testing"
	"time"

	"github.com/stack-tools/stack/load/e2e"
	"github.com/stack-tools/stack/load/probe"
	"github.com/stack-tools/stack/load/scenario"
)

// BenchmarkMatchArrivals sends b.N messages to a tracker and matches one
// arrival to each (the header rule, in pulls of 5000): ns/op is the cost of
// matching one arrival; B/msg what the tracker keeps per message (the
// ledger, the trace's hits, the histograms), which must not grow with N.
// bench/load runs it with -benchtime 1000000x.
func BenchmarkMatchArrivals(b *testing.B) {
	codec := scenario.IDCodec{Format: scenario.IDFormat{Prefix: "SM", Format: "hex", Length: 32}, Run: scenario.NewRun()}
	cfg := e2e.Config{Probes: []e2e.Probe{{Name: "sink", URL: "http://127.0.0.1:9", Match: []e2e.Rule{{Header: "X-Ref"}}}},
		Expect: map[string]int{"a": 1, "b": 1}}
	if err := cfg.Check([]string{"a", "b"}, nil); err != nil {
		b.Fatal(err)
	}
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	t, err := e2e.NewTracker(cfg, e2e.Setup{Types: []string{"a", "b"}, Codec: codec})
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	t.Start(start)
	n := uint64(b.N)
	for seq := range n {
		t.Sent(e2e.Sent{Seq: seq, Type: int(seq % 2), Intended: time.Duration(seq) * time.Microsecond, Code: 200})
	}
	batch := make([]probe.Arrival, 5000)
	for i := range batch {
		batch[i].Header = map[string]string{}
	}
	b.ResetTimer()
	for lo := uint64(0); lo < n; lo += uint64(len(batch)) {
		k := min(uint64(len(batch)), n-lo)
		for i := range k {
			a := &batch[i]
			a.N, a.At = lo+i, start.Add(time.Duration(lo+i)*time.Microsecond+50*time.Millisecond)
			a.Header["X-Ref"] = codec.RunID(0, lo+i)
		}
		t.Absorb(0, batch[:k])
	}
	b.StopTimer()
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.HeapAlloc-min(after.HeapAlloc, before.HeapAlloc))/float64(n), "B/msg")
	runtime.KeepAlive(t)
}
