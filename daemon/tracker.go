package daemon

import (
	"cmp"
	"math"
	"slices"
	"time"

	"github.com/vigil-edge/vigil/detect"
)

// TrackerConfig tunes a Tracker (from the thresholds section).
type TrackerConfig struct {
	// IoU is the smallest overlap between a track's last box and a detection that continues
	// the track.
	IoU float64
	// Confirm is how many frames a track needs before "new" is announced, and how many
	// consecutive frames must agree on a different name before "update".
	Confirm int
	// Absence ends a track not seen for this long.
	Absence time.Duration
	// MaxTracks bounds live tracks; further faces are ignored (and counted) until one ends.
	MaxTracks int
}

// TrackerConfigFrom takes the tracker settings from the configuration.
func TrackerConfigFrom(t Thresholds) TrackerConfig {
	return TrackerConfig{IoU: t.IoU, Confirm: t.Confirm, Absence: t.Absence.D(), MaxTracks: t.MaxTracks}
}

// Observation is one face in one frame: the detector's box and score and, when the
// recogniser ran, its verdict.
type Observation struct {
	Box   detect.Box
	Score float32
	// Name is the identity, Unknown, or "" when recognition did not run on this face
	// (too small, or skipped): such frames keep the track alive but do not vote.
	Name     string
	Distance float32
	// Track is filled in by Tracker.Update.
	Track uint64
}

type track struct {
	id        uint64
	box       detect.Box
	score     float32
	lastSeen  time.Time
	hits      int
	announced bool
	name      string  // announced identity
	distance  float32 // the latest distance observed for name
	votes     []string
	dist      map[string]float32 // the latest distance per voted name
}

// Tracker associates faces across frames of one camera by box overlap and turns changes into
// events: "new" once a track was seen in Confirm frames (with the name most of those frames
// agreed on), "update" when Confirm consecutive frames agree on another name, and "end"
// after Absence without a sighting. One event per change, never one per frame. It is not
// safe for concurrent use; each camera loop owns one.
type Tracker struct {
	camera  string
	cfg     TrackerConfig
	tracks  []*track
	nextID  uint64
	ignored uint64

	// Scratch for Update, kept so that a frame costs no allocation once they have grown.
	pairs              []trackPair
	trackUsed, obsUsed []bool
	touched            []*track
}

// trackPair is a candidate (track, observation) match and its overlap.
type trackPair struct {
	ti, oi int
	iou    float32
}

// NewTracker makes a tracker for camera.
func NewTracker(camera string, cfg TrackerConfig) *Tracker {
	if cfg.Confirm < 1 {
		cfg.Confirm = 1
	}
	if cfg.MaxTracks < 1 {
		cfg.MaxTracks = 1
	}
	return &Tracker{camera: camera, cfg: cfg}
}

// Ignored counts faces not tracked because MaxTracks tracks were live.
func (t *Tracker) Ignored() uint64 { return t.ignored }

// Update takes the faces of one frame taken at now, sets obs[i].Track, and returns the
// events this frame caused, in a stable order (ends, then news and updates by track id).
func (t *Tracker) Update(now time.Time, obs []Observation) []Event {
	pairs := t.pairs[:0]
	for ti, tr := range t.tracks {
		for oi := range obs {
			if iou := detect.IoU(tr.box, obs[oi].Box); float64(iou) >= t.cfg.IoU && iou > 0 {
				pairs = append(pairs, trackPair{ti, oi, iou})
			}
		}
	}
	t.pairs = pairs
	// Highest overlap first; stable, so ties keep track then observation order.
	slices.SortStableFunc(pairs, func(a, b trackPair) int { return cmp.Compare(b.iou, a.iou) })
	trackUsed := falses(&t.trackUsed, len(t.tracks))
	obsUsed := falses(&t.obsUsed, len(obs))
	touched := t.touched[:0]
	for _, p := range pairs {
		if trackUsed[p.ti] || obsUsed[p.oi] {
			continue
		}
		trackUsed[p.ti], obsUsed[p.oi] = true, true
		tr := t.tracks[p.ti]
		t.observe(tr, now, obs[p.oi])
		obs[p.oi].Track = tr.id
		touched = append(touched, tr)
	}

	var evs []Event
	// End tracks not seen for Absence (those seen in this frame are fresh by definition).
	kept := t.tracks[:0]
	for i, tr := range t.tracks {
		if !trackUsed[i] && now.Sub(tr.lastSeen) >= t.cfg.Absence {
			if tr.announced {
				evs = append(evs, t.event(EventEnd, tr, now))
			}
			continue
		}
		kept = append(kept, tr)
	}
	clear(t.tracks[len(kept):])
	t.tracks = kept

	for oi := range obs {
		if obsUsed[oi] {
			continue
		}
		if len(t.tracks) >= t.cfg.MaxTracks {
			t.ignored++
			continue
		}
		t.nextID++
		tr := &track{id: t.nextID, dist: map[string]float32{}}
		t.observe(tr, now, obs[oi])
		obs[oi].Track = tr.id
		t.tracks = append(t.tracks, tr)
		touched = append(touched, tr)
	}

	slices.SortFunc(touched, func(a, b *track) int { return cmp.Compare(a.id, b.id) })
	for _, tr := range touched {
		if !tr.announced {
			if tr.hits >= t.cfg.Confirm {
				tr.announced = true
				tr.name = majority(tr.votes)
				tr.distance = tr.distFor(tr.name)
				evs = append(evs, t.event(EventNew, tr, now))
			}
			continue
		}
		if name, ok := agreed(tr.votes, t.cfg.Confirm); ok && name != tr.name {
			tr.name = name
			tr.distance = tr.distFor(name)
			evs = append(evs, t.event(EventUpdate, tr, now))
		} else if name == tr.name {
			tr.distance = tr.distFor(name)
		}
	}
	clear(touched) // the scratch holds no track that may end
	t.touched = touched[:0]
	return evs
}

// falses returns (*buf)[:n] all false, growing *buf when it is shorter.
func falses(buf *[]bool, n int) []bool {
	if cap(*buf) < n {
		*buf = make([]bool, n)
	}
	b := (*buf)[:n]
	clear(b)
	return b
}

func (t *Tracker) observe(tr *track, now time.Time, o Observation) {
	tr.box, tr.score, tr.lastSeen = o.Box, o.Score, now
	tr.hits++
	if o.Name != "" {
		tr.votes = append(tr.votes, o.Name)
		if len(tr.votes) > t.cfg.Confirm {
			tr.votes = append(tr.votes[:0], tr.votes[len(tr.votes)-t.cfg.Confirm:]...)
		}
		tr.dist[o.Name] = o.Distance
		if len(tr.dist) > 2*t.cfg.Confirm+2 {
			// Bound the map: keep only names still among the votes.
			for n := range tr.dist {
				if !contains(tr.votes, n) && n != tr.name {
					delete(tr.dist, n)
				}
			}
		}
	}
}

func (tr *track) distFor(name string) float32 {
	if d, ok := tr.dist[name]; ok {
		return d
	}
	return float32(math.Inf(1))
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// majority is the most frequent name (the latest among equals), Unknown without votes.
func majority(votes []string) string {
	best, bestN := Unknown, 0
	for i := len(votes) - 1; i >= 0; i-- {
		n := 0
		for _, v := range votes {
			if v == votes[i] {
				n++
			}
		}
		if n > bestN {
			best, bestN = votes[i], n
		}
	}
	return best
}

// agreed reports the name when the last n votes all name it.
func agreed(votes []string, n int) (string, bool) {
	if len(votes) < n {
		return "", false
	}
	last := votes[len(votes)-n:]
	for _, v := range last {
		if v != last[0] {
			return "", false
		}
	}
	return last[0], true
}

func (t *Tracker) event(typ EventType, tr *track, now time.Time) Event {
	b := tr.box
	return Event{
		Type: typ, ID: tr.id, Camera: t.camera, Time: now, Label: "face",
		Name: tr.name, Distance: float64(tr.distance), Score: float64(tr.score),
		Box: [4]int{int(math.Round(float64(b.X))), int(math.Round(float64(b.Y))), int(math.Round(float64(b.W))), int(math.Round(float64(b.H)))},
	}
}

// EndAll ends every track (camera disabled, daemon stopping) and returns the "end" events.
func (t *Tracker) EndAll(now time.Time) []Event {
	var evs []Event
	for _, tr := range t.tracks {
		if tr.announced {
			evs = append(evs, t.event(EventEnd, tr, now))
		}
	}
	clear(t.tracks)
	t.tracks = t.tracks[:0]
	return evs
}

// Counts returns how many announced tracks carry each name (Unknown included).
func (t *Tracker) Counts() map[string]int {
	m := map[string]int{}
	for _, tr := range t.tracks {
		if tr.announced {
			m[tr.name]++
		}
	}
	return m
}
