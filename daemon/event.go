package daemon

import (
	"encoding/json"
	"math"
	"time"
)

// EventType is what changed about a track.
type EventType string

const (
	// EventNew: a face track started (after thresholds.confirm frames, with its first identity).
	EventNew EventType = "new"
	// EventUpdate: the track's identity was confirmed as a different name.
	EventUpdate EventType = "update"
	// EventEnd: the track was not seen for thresholds.absence.
	EventEnd EventType = "end"
)

// Unknown is the name of a face that matched nobody in the gallery.
const Unknown = "unknown"

// Event is one change, published as JSON on <prefix>/<device>/events (QoS 1, not retained):
//
//	{"seq":17,"type":"new","id":3,"camera":"door","time":"2026-11-28T18:00:00.123456789Z",
//	 "label":"face","name":"alice","distance":0.41,"score":0.93,"box":[120,80,64,64]}
//
// Seq is assigned when the event is queued: strictly increasing per device and kept across
// restarts, so a subscriber drops redelivered duplicates by remembering the last seq seen.
// ID is the track id (unique per camera while the daemon runs). Distance is -1 when there
// was nothing to compare with (empty gallery). Box is x, y, width, height in frame pixels.
type Event struct {
	Seq      uint64    `json:"seq"`
	Type     EventType `json:"type"`
	ID       uint64    `json:"id"`
	Camera   string    `json:"camera"`
	Time     time.Time `json:"time"`
	Label    string    `json:"label"`
	Name     string    `json:"name"`
	Distance float64   `json:"distance"`
	Score    float64   `json:"score"`
	Box      [4]int    `json:"box"`
}

// MarshalJSON writes the time as RFC 3339 with nanoseconds in UTC and non-finite numbers as -1
// (JSON has no NaN).
func (e Event) MarshalJSON() ([]byte, error) {
	type plain Event
	p := plain(e)
	p.Time = p.Time.UTC()
	p.Distance = finite(p.Distance)
	p.Score = finite(p.Score)
	if p.Label == "" {
		p.Label = "face"
	}
	return json.Marshal(p)
}

func finite(f float64) float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return -1
	}
	return f
}
