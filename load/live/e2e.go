package live

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// e2eHist is registered on first use, so runs without probes export nothing new.
func (m *Metrics) e2eHist() *prometheus.HistogramVec {
	m.e2eOnce.Do(func() {
		m.e2e = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "stack_load_e2e_latency_seconds",
			Help:    "End-to-end latency by message type: from each message's intended send time to its arrival at a probe.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 22)}, []string{"type"})
		m.Registry.MustRegister(m.e2e)
	})
	return m.e2e
}

// ObserveE2E implements load.E2EObserver.
func (m *Metrics) ObserveE2E(typ string, latency time.Duration) {
	m.e2eHist().WithLabelValues(typ).Observe(latency.Seconds())
}
