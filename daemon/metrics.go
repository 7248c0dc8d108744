package daemon

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are the Prometheus series served on /metrics. Each daemon (and each test) has its
// own registry, so nothing is global.
type Metrics struct {
	Registry *prometheus.Registry

	Frames          *prometheus.CounterVec   // vigil_frames_total{camera}
	FramesDropped   *prometheus.CounterVec   // vigil_frames_dropped_total{camera}
	Inference       *prometheus.HistogramVec // vigil_inference_seconds{model}
	Events          prometheus.Counter       // vigil_events_total: produced
	EventsPublished prometheus.Counter       // vigil_events_published_total: acknowledged by the broker
	EventsDropped   prometheus.Counter       // vigil_events_dropped_total: refused by the full queue or a failing disk
	MQTTConnected   prometheus.Gauge         // vigil_mqtt_connected
	CommandsTotal   *prometheus.CounterVec   // vigil_commands_total{command,result}
}

// NewMetrics registers the series. queueLen reports vigil_event_queue_length when scraped.
func NewMetrics(queueLen func() float64) *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{
		Registry: r,
		Frames: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_frames_total", Help: "Frames read from the camera.",
		}, []string{"camera"}),
		FramesDropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_frames_dropped_total", Help: "Frames replaced by a newer one before the pipeline took them.",
		}, []string{"camera"}),
		Inference: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "vigil_inference_seconds",
			Help:    "Time to run one model on one input.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"model"}),
		Events: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_events_total", Help: "Events produced by the trackers.",
		}),
		EventsPublished: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_events_published_total", Help: "Events acknowledged by the MQTT broker.",
		}),
		EventsDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_events_dropped_total", Help: "Events not queued: the queue was at mqtt.queue.max_events or the disk failed.",
		}),
		MQTTConnected: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vigil_mqtt_connected", Help: "1 while connected to the broker.",
		}),
		CommandsTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_commands_total", Help: "MQTT commands received, by command and result.",
		}, []string{"command", "result"}),
	}
	if queueLen == nil {
		queueLen = func() float64 { return 0 }
	}
	r.MustRegister(m.Frames, m.FramesDropped, m.Inference, m.Events, m.EventsPublished, m.EventsDropped,
		m.MQTTConnected, m.CommandsTotal,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "vigil_event_queue_length", Help: "Events waiting in the on-disk queue for the broker.",
		}, queueLen),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}
