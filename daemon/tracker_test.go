package daemon

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vigil-edge/vigil/detect"
)

var t0 = time.Date(2026, 11, 28, 18, 0, 0, 0, time.UTC)

func frameAt(i int) time.Time { return t0.Add(time.Duration(i) * 100 * time.Millisecond) }

func sighting(x, y float32, name string) Observation {
	return Observation{Box: detect.Box{X: x, Y: y, W: 60, H: 60}, Score: 0.9, Name: name, Distance: 0.3}
}

func testTracker() *Tracker {
	return NewTracker("door", TrackerConfig{IoU: 0.3, Confirm: 3, Absence: time.Second, MaxTracks: 4})
}

func types(evs []Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, string(e.Type)+":"+e.Name)
	}
	return out
}

func TestTrackerNewAfterConfirmThenEndAfterAbsence(t *testing.T) {
	tr := testTracker()
	var all []Event
	for i := range 10 {
		obs := []Observation{sighting(100+float32(i)*3, 50, "alice")}
		evs := tr.Update(frameAt(i), obs)
		assert.Equal(t, uint64(1), obs[0].Track)
		if i == 2 {
			require.Equal(t, []string{"new:alice"}, types(evs), "new on the Confirm-th frame")
			assert.Equal(t, [4]int{106, 50, 60, 60}, evs[0].Box)
			assert.Equal(t, "door", evs[0].Camera)
			assert.InDelta(t, 0.3, evs[0].Distance, 1e-6)
		} else {
			assert.Empty(t, evs, "frame %d: one event per change, not per frame", i)
		}
		all = append(all, evs...)
	}
	assert.Equal(t, map[string]int{"alice": 1}, tr.Counts())
	// Gone, but not yet for Absence.
	assert.Empty(t, tr.Update(frameAt(15), nil))
	evs := tr.Update(frameAt(19), nil)
	require.Equal(t, []string{"end:alice"}, types(evs))
	assert.Equal(t, uint64(1), evs[0].ID)
	assert.Empty(t, tr.Counts())
}

func TestTrackerShortGapKeepsTrack(t *testing.T) {
	tr := testTracker()
	for i := range 3 {
		tr.Update(frameAt(i), []Observation{sighting(100, 50, "alice")})
	}
	assert.Empty(t, tr.Update(frameAt(8), nil), "0.5 s gap < absence")
	obs := []Observation{sighting(104, 52, "alice")}
	assert.Empty(t, tr.Update(frameAt(9), obs))
	assert.Equal(t, uint64(1), obs[0].Track, "the same track continues")
}

func TestTrackerIdentityUpdateNeedsConfirmAgreeingFrames(t *testing.T) {
	tr := testTracker()
	var got []string
	names := []string{"unknown", "alice", "alice", "alice", "bob", "bob", "alice", "bob", "bob", "bob", "bob"}
	for i, n := range names {
		got = append(got, types(tr.Update(frameAt(i), []Observation{sighting(100, 50, n)}))...)
	}
	assert.Equal(t, []string{"new:alice", "update:bob"}, got, "majority at announcement; a flicker is no update")
}

func TestTrackerTentativeTrackVanishesSilently(t *testing.T) {
	tr := testTracker()
	tr.Update(frameAt(0), []Observation{sighting(100, 50, "alice")})
	tr.Update(frameAt(1), []Observation{sighting(100, 50, "alice")})
	assert.Empty(t, tr.Update(frameAt(30), nil), "never announced, so no end")
	assert.Empty(t, tr.Counts())
}

func TestTrackerUnrecognisedIsUnknown(t *testing.T) {
	tr := NewTracker("door", TrackerConfig{IoU: 0.3, Confirm: 1, Absence: time.Second, MaxTracks: 4})
	evs := tr.Update(frameAt(0), []Observation{sighting(100, 50, "")})
	require.Equal(t, []string{"new:unknown"}, types(evs))
	assert.Equal(t, -1.0, finite(evs[0].Distance), "no distance without a comparison")
}

func TestTrackerTwoFacesKeepTheirIDs(t *testing.T) {
	tr := testTracker()
	var news []Event
	for i := range 8 {
		// Out of order in the slice on odd frames: association is by overlap, not position.
		a, b := sighting(50+float32(i)*4, 50, "alice"), sighting(300-float32(i)*4, 60, "bob")
		obs := []Observation{a, b}
		if i%2 == 1 {
			obs = []Observation{b, a}
		}
		for _, e := range tr.Update(frameAt(i), obs) {
			news = append(news, e)
		}
		for _, o := range obs {
			if o.Name == "alice" {
				assert.Equal(t, uint64(1), o.Track)
			} else {
				assert.Equal(t, uint64(2), o.Track)
			}
		}
	}
	assert.Equal(t, []string{"new:alice", "new:bob"}, types(news))
	assert.Equal(t, map[string]int{"alice": 1, "bob": 1}, tr.Counts())
	ends := tr.EndAll(frameAt(9))
	assert.Equal(t, []string{"end:alice", "end:bob"}, types(ends))
}

func TestTrackerBoundsTracks(t *testing.T) {
	tr := testTracker()
	var obs []Observation
	for i := range 10 {
		obs = append(obs, sighting(float32(i)*100, 0, "x"))
	}
	tr.Update(frameAt(0), obs)
	assert.Len(t, tr.tracks, 4)
	assert.Equal(t, uint64(6), tr.Ignored())
}

// TestTrackerInvariants drives the tracker with random faces and checks the event grammar:
// per track id, new once, then updates (each changing the name), then at most one end.
func TestTrackerInvariants(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	tr := NewTracker("door", TrackerConfig{IoU: 0.3, Confirm: 2, Absence: 300 * time.Millisecond, MaxTracks: 8})
	type state struct {
		name  string
		ended bool
	}
	seen := map[uint64]*state{}
	names := []string{"alice", "bob", Unknown, ""}
	total := 0
	for i := range 5000 {
		var obs []Observation
		for range rng.IntN(5) {
			obs = append(obs, sighting(float32(rng.IntN(6))*70, float32(rng.IntN(3))*70, names[rng.IntN(len(names))]))
		}
		for _, e := range tr.Update(frameAt(i), obs) {
			total++
			s := seen[e.ID]
			switch e.Type {
			case EventNew:
				require.Nil(t, s, "second new for track %d", e.ID)
				seen[e.ID] = &state{name: e.Name}
			case EventUpdate:
				require.NotNil(t, s)
				require.False(t, s.ended)
				require.NotEqual(t, s.name, e.Name, "update without a change")
				s.name = e.Name
			case EventEnd:
				require.NotNil(t, s)
				require.False(t, s.ended)
				require.Equal(t, s.name, e.Name)
				s.ended = true
			}
		}
		require.LessOrEqual(t, len(tr.tracks), 8)
	}
	t.Logf("%d events for %d tracks over 5000 random frames", total, len(seen))
}
