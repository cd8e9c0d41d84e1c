package httpapi

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tongbao/tongbao/ledger"
)

// metrics are the server's Prometheus metrics: requests and latencies by
// route, and the ledger writer's counters read from ledger.Stats at each
// scrape. They are the counters of the ledger served at the scrape: they
// start again from zero when this process becomes the writer again, and
// read zero while it stands by.
type metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

func newMetrics(reg *prometheus.Registry, stats func() *ledger.Stats, idempotency func() (entries, bytes int64)) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tongbao_http_requests_total", Help: "HTTP requests answered, by method, route and status.",
		}, []string{"method", "route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "tongbao_http_request_duration_seconds", Help: "Time to answer an HTTP request, by route.",
			Buckets: []float64{0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5},
		}, []string{"route"}),
	}
	read := func(f func(*ledger.Stats) float64) func() float64 {
		return func() float64 {
			if st := stats(); st != nil {
				return f(st)
			}
			return 0
		}
	}
	collectors := []prometheus.Collector{
		m.requests, m.latency,
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "tongbao_ledger_batches_total", Help: "Batches the ledger's writer committed."},
			read(func(st *ledger.Stats) float64 { return float64(st.Batches.Load()) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "tongbao_ledger_transfers_total", Help: "Transfers the ledger's writer committed; divided by batches, the batch size."},
			read(func(st *ledger.Stats) float64 { return float64(st.Transfers.Load()) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "tongbao_ledger_commit_seconds_total", Help: "Time spent committing batches; divided by batches, the commit time."},
			read(func(st *ledger.Stats) float64 { return float64(st.CommitNanos.Load()) / 1e9 })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tongbao_ledger_batch_size_mean", Help: "Mean transfers per committed batch since the ledger opened."},
			read(func(st *ledger.Stats) float64 {
				if b := st.Batches.Load(); b > 0 {
					return float64(st.Transfers.Load()) / float64(b)
				}
				return 0
			})),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tongbao_ledger_commit_seconds_mean", Help: "Mean time to commit a batch since the ledger opened."},
			read(func(st *ledger.Stats) float64 {
				if b := st.Batches.Load(); b > 0 {
					return float64(st.CommitNanos.Load()) / 1e9 / float64(b)
				}
				return 0
			})),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tongbao_ledger_queue_depth", Help: "Requests waiting for the ledger's writer when it last took a batch."},
			read(func(st *ledger.Stats) float64 { return float64(st.QueueDepthLast.Load()) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tongbao_idempotency_entries", Help: "Answers kept under Idempotency-Keys for replay."},
			func() float64 { n, _ := idempotency(); return float64(n) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tongbao_idempotency_bytes", Help: "Memory counted for the answers kept under Idempotency-Keys; at most the configured bound."},
			func() float64 { _, b := idempotency(); return float64(b) }),
	}
	for _, c := range collectors {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *metrics) observe(method, route string, status int, d time.Duration) {
	m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(route).Observe(d.Seconds())
}
