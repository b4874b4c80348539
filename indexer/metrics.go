package indexer

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the follower's, labelled by chain. One set per process.
type Metrics struct {
	height       *prometheus.GaugeVec
	nodeHeight   *prometheus.GaugeVec
	tipTime      *prometheus.GaugeVec
	up           *prometheus.GaugeVec
	errors       *prometheus.CounterVec
	triggers     *prometheus.CounterVec
	missed       *prometheus.CounterVec
	reorgs       *prometheus.HistogramVec
	reorgTooDeep *prometheus.GaugeVec
	queue        *prometheus.GaugeVec
}

// NewMetrics registers the follower metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		height: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "sluice_index_height",
			Help: "Height of the last block committed to the index."}, []string{"chain"}),
		nodeHeight: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "sluice_node_height",
			Help: "Height of the node's best block, as last seen."}, []string{"chain"}),
		tipTime: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "sluice_index_tip_timestamp_seconds",
			Help: "Block time of the indexed tip (tip age = time() - this)."}, []string{"chain"}),
		up: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "sluice_index_up",
			Help: "1 while the last sync with the node succeeded, else 0."}, []string{"chain"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_index_sync_errors_total",
			Help: "Failed sync rounds (node unreachable, bad block, store error); each is retried."}, []string{"chain"}),
		triggers: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_index_triggers_total",
			Help: "Wake-ups of the follower by trigger kind (zmq, websocket, poll)."}, []string{"chain", "kind"}),
		missed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_index_trigger_missed_total",
			Help: "New blocks found by the poll that the push trigger (zmq, websocket) did not announce."}, []string{"chain", "kind"}),
		reorgs: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "sluice_index_reorg_depth_blocks",
			Help: "Reorgs handled, by depth in blocks.", Buckets: []float64{1, 2, 3, 5, 10, 20, 50, 100}}, []string{"chain"}),
		reorgTooDeep: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "sluice_index_reorg_too_deep",
			Help: "1 when the follower stopped on a reorg deeper than its maximum."}, []string{"chain"}),
		queue: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "sluice_index_pipeline_queue_blocks",
			Help: "Blocks fetched or being fetched ahead of the writer."}, []string{"chain"}),
	}
	if reg != nil {
		reg.MustRegister(m.height, m.nodeHeight, m.tipTime, m.up, m.errors, m.triggers, m.missed, m.reorgs, m.reorgTooDeep, m.queue)
	}
	return m
}

// Init makes the chain's error, reorg and alarm series exist at 0 before
// their first event, so alerts, rate() and panels see them from the start;
// push names the chain's push trigger (zmq, websocket), "" when it has none.
func (m *Metrics) Init(chain, push string) {
	m.errors.WithLabelValues(chain)
	m.reorgTooDeep.WithLabelValues(chain)
	m.reorgs.WithLabelValues(chain) // created, not observed: count 0
	if push != "" {
		m.missed.WithLabelValues(chain, push)
	}
}
