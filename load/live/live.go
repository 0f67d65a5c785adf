// Package live exposes a running load test as Prometheus metrics, for the
// dashboards engineers watch during a test.
package live

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/stack-tools/stack/load"
)

// Metrics is a load.Observer that updates Prometheus collectors.
type Metrics struct {
	Registry  *prometheus.Registry
	responses *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	inFlight  prometheus.Gauge
	late      prometheus.Gauge
	rate      prometheus.Gauge
	votes     prometheus.Gauge
	cache     map[string]map[int]prometheus.Counter
	hists     map[string]prometheus.Observer
	e2e       *prometheus.HistogramVec // e2e.go
	e2eOnce   sync.Once
}

// New registers the generator's metrics in a fresh registry.
func New() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		responses: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "stack_load_responses_total",
			Help: "Responses by message type and HTTP status (code 0: no response, the request failed)."}, []string{"type", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "stack_load_latency_seconds",
			Help:    "Latency from each request's intended send time to the end of its response.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}, []string{"type"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{Name: "stack_load_in_flight", Help: "Requests sent and not yet answered."}),
		late:     prometheus.NewGauge(prometheus.GaugeOpts{Name: "stack_load_late_requests", Help: "Requests that left later than allowed after their intended time."}),
		rate:     prometheus.NewGauge(prometheus.GaugeOpts{Name: "stack_load_send_rate", Help: "Requests sent per second in the last window."}),
		votes:    prometheus.NewGauge(prometheus.GaugeOpts{Name: "stack_load_stop_votes", Help: "Current stop votes."}),
		cache:    map[string]map[int]prometheus.Counter{},
		hists:    map[string]prometheus.Observer{},
	}
	m.Registry.MustRegister(m.responses, m.latency, m.inFlight, m.late, m.rate, m.votes)
	return m
}

// Observe implements load.Observer; it is called from one goroutine.
func (m *Metrics) Observe(typ string, code int, failed bool, latency time.Duration) {
	byCode := m.cache[typ]
	if byCode == nil {
		byCode = map[int]prometheus.Counter{}
		m.cache[typ] = byCode
		m.hists[typ] = m.latency.WithLabelValues(typ)
	}
	c := byCode[code]
	if c == nil {
		c = m.responses.WithLabelValues(typ, strconv.Itoa(code))
		byCode[code] = c
	}
	c.Inc()
	if code != 0 {
		m.hists[typ].Observe(latency.Seconds())
	}
}

// Progress implements load.Observer.
func (m *Metrics) Progress(p load.Progress) {
	m.inFlight.Set(float64(p.InFlight))
	m.late.Set(float64(p.Late))
	m.rate.Set(p.WindowRate)
	m.votes.Set(float64(p.Votes))
}

// Serve serves /metrics on addr until ctx ends. An address without a host
// listens on 127.0.0.1 only. It returns the address actually listened on.
func (m *Metrics) Serve(ctx context.Context, addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("--metrics-addr %q: want HOST:PORT such as 127.0.0.1:9464: %w", addr, err)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	l, err := net.Listen("tcp", net.JoinHostPort(host, port))
	if err != nil {
		return "", fmt.Errorf("--metrics-addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			_ = err // the run goes on without live metrics
		}
	}()
	return l.Addr().String(), nil
}
