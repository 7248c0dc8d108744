package daemon

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"mime"
	"net"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type httpFixture struct {
	url     string
	hub     *FrameHub
	health  *Health
	metrics *Metrics
	mqtt    MQTTStatus
}

func startHTTP(t *testing.T, token string) *httpFixture {
	t.Helper()
	f := &httpFixture{hub: NewFrameHub("door", "yard")}
	f.metrics = NewMetrics(func() float64 { return 7 })
	f.health = NewHealth([]string{"door", "yard"}, func() MQTTStatus { return f.mqtt })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	f.url = "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- ServeHTTP(ctx, ln, HTTPHandler(token, f.metrics, f.health, f.hub, testLogger(t)), testLogger(t))
	}()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
		http.DefaultClient.CloseIdleConnections()
	})
	return f
}

func jpegOf(t testing.TB, c color.Color) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 32, 24))
	for i := 0; i < 32*24; i++ {
		img.Set(i%32, i/32, c)
	}
	var b bytes.Buffer
	require.NoError(t, jpeg.Encode(&b, img, nil))
	return b.Bytes()
}

func get(t *testing.T, url string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	require.NoError(t, err)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, b
}

func TestHealthz(t *testing.T) {
	f := startHTTP(t, "")
	resp, body := get(t, f.url+"/healthz")
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "cameras starting, MQTT down")
	var rep HealthReport
	require.NoError(t, json.Unmarshal(body, &rep))
	assert.Equal(t, "degraded", rep.Status)
	assert.Equal(t, CameraStarting, rep.Cameras["door"].State)

	f.mqtt = MQTTStatus{Connected: true, Broker: "tcp://x"}
	f.health.Frame("door", time.Now(), 0)
	f.health.SetCamera("yard", CameraDisabled, nil)
	resp, body = get(t, f.url+"/healthz")
	assert.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	require.NoError(t, json.Unmarshal(body, &rep))
	assert.Equal(t, uint64(1), rep.Cameras["door"].Frames)
	assert.True(t, rep.MQTT.Connected)

	f.health.SetCamera("door", CameraReopening, io.ErrUnexpectedEOF)
	resp, body = get(t, f.url+"/healthz")
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Contains(t, string(body), `"error":"unexpected EOF"`)
}

func TestMetricsNames(t *testing.T) {
	f := startHTTP(t, "")
	f.metrics.Frames.WithLabelValues("door").Add(3)
	f.metrics.FramesDropped.WithLabelValues("door").Inc()
	f.metrics.Inference.WithLabelValues("tiny").Observe(0.02)
	f.metrics.Events.Inc()
	f.metrics.EventsPublished.Inc()
	resp, body := get(t, f.url+"/metrics")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	for _, want := range []string{
		`vigil_frames_total{camera="door"} 3`,
		`vigil_frames_dropped_total{camera="door"} 1`,
		`vigil_inference_seconds_bucket{model="tiny",le="0.025"} 1`,
		`vigil_events_total 1`,
		`vigil_events_published_total 1`,
		`vigil_event_queue_length 7`,
		`go_goroutines`,
	} {
		assert.Contains(t, string(body), want)
	}
}

func TestSnapshotAndStream(t *testing.T) {
	f := startHTTP(t, "")
	resp, _ := get(t, f.url+"/snapshot/attic.jpg")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	resp, _ = get(t, f.url+"/snapshot/door")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)

	red, green := jpegOf(t, color.RGBA{255, 0, 0, 255}), jpegOf(t, color.RGBA{0, 255, 0, 255})
	f.hub.Put("door", red)
	resp, body := get(t, f.url+"/snapshot/door.jpg")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "image/jpeg", resp.Header.Get("Content-Type"))
	assert.Equal(t, red, body)

	resp, err := http.Get(f.url + "/stream/door")
	require.NoError(t, err)
	defer resp.Body.Close()
	mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	require.NoError(t, err)
	assert.Equal(t, "multipart/x-mixed-replace", mt)
	// Browsers show a part as soon as Content-Length bytes arrived, without waiting for the
	// next boundary; read it the same way.
	br := bufio.NewReader(resp.Body)
	first := readMJPEGPart(t, br, params["boundary"])
	assert.Equal(t, red, first)
	f.hub.Put("door", green)
	second := readMJPEGPart(t, br, params["boundary"])
	assert.Equal(t, green, second)
	_, err = jpeg.Decode(bytes.NewReader(second))
	require.NoError(t, err)
}

func TestStreamLimit(t *testing.T) {
	f := startHTTP(t, "")
	f.hub.Put("door", jpegOf(t, color.Black))
	var open []*http.Response
	for range MaxStreams {
		resp, err := http.Get(f.url + "/stream/door")
		require.NoError(t, err)
		open = append(open, resp)
	}
	resp, _ := get(t, f.url+"/stream/door")
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	for _, r := range open {
		r.Body.Close()
	}
}

func TestHTTPToken(t *testing.T) {
	const token = "0123456789abcdef-token"
	f := startHTTP(t, token)
	f.mqtt.Connected = true
	for _, path := range []string{"/healthz", "/metrics", "/snapshot/door.jpg", "/stream/door"} {
		resp, _ := get(t, f.url+path)
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, path)
		resp, _ = get(t, f.url+path, "Authorization", "Bearer wrong")
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, path)
	}
	resp, _ := get(t, f.url+"/metrics", "Authorization", "Bearer "+token)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	resp, _ = get(t, f.url+"/metrics?token="+token)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
}

func TestHTTPDefaultsToLoopback(t *testing.T) {
	c := Default()
	host, _, err := net.SplitHostPort(c.HTTP.Listen)
	require.NoError(t, err)
	assert.True(t, isLoopback(host))
	assert.True(t, strings.HasPrefix(c.HTTP.Listen, "127.0.0.1:"))
}

func readMJPEGPart(t *testing.T, br *bufio.Reader, boundary string) []byte {
	t.Helper()
	tp := textproto.NewReader(br)
	for {
		line, err := tp.ReadLine()
		require.NoError(t, err)
		if line == "--"+boundary {
			break
		}
	}
	hdr, err := tp.ReadMIMEHeader()
	require.NoError(t, err)
	assert.Equal(t, "image/jpeg", hdr.Get("Content-Type"))
	n, err := strconv.Atoi(hdr.Get("Content-Length"))
	require.NoError(t, err)
	b := make([]byte, n)
	_, err = io.ReadFull(br, b)
	require.NoError(t, err)
	return b
}
