package live

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the live-update counters of one API process (pkg/metrics
// style: fundigo_ prefix, bounded labels). A nil *Metrics records nothing.
type Metrics struct {
	connections *prometheus.GaugeVec
	messages    *prometheus.CounterVec
	drops       *prometheus.CounterVec
	refused     *prometheus.CounterVec
}

// Transports label the connection metrics.
const (
	TransportWebSocket = "ws"
	TransportSSE       = "sse"
)

// NewMetrics registers the live metrics on reg (nil: unregistered, for
// listing families).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		connections: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "fundigo_stream_connections",
			Help: "Open live-update connections by transport (ws, sse).",
		}, []string{"transport"}),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fundigo_stream_messages_total",
			Help: "Messages written to live-update clients by transport (events, replays and control messages).",
		}, []string{"transport"}),
		drops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fundigo_stream_drops_total",
			Help: "Live-update connections closed by the server, by reason (slow_consumer, shutdown, resync).",
		}, []string{"reason"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fundigo_stream_refused_total",
			Help: "Live-update subscriptions refused by a cap (user_cap, process_cap).",
		}, []string{"reason"}),
	}
	if reg != nil {
		reg.MustRegister(m.connections, m.messages, m.drops, m.refused)
	}
	return m
}

// Collectors are the metric vectors, for Families-style listings.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.connections, m.messages, m.drops, m.refused}
}

func (m *Metrics) opened(transport string, delta float64) {
	if m != nil {
		m.connections.WithLabelValues(transport).Add(delta)
	}
}

// Delivered counts n messages written to a client over transport.
func (m *Metrics) Delivered(transport string, n int) {
	if m != nil {
		m.messages.WithLabelValues(transport).Add(float64(n))
	}
}

func (m *Metrics) dropped(reason string) {
	if m != nil {
		m.drops.WithLabelValues(reason).Inc()
	}
}

func (m *Metrics) refusedBy(reason string) {
	if m != nil {
		m.refused.WithLabelValues(reason).Inc()
	}
}
