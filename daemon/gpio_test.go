package daemon

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/gpio/gpiotest"
)

func TestInputDebounceAndHold(t *testing.T) {
	pin := &gpiotest.Pin{N: "PIR", EdgesChan: make(chan gpio.Level, 16)}
	in, err := NewInput(pin, GPIOInput{Debounce: Duration(50 * time.Millisecond), Hold: Duration(10 * time.Second), Pull: "down"}, nil)
	require.NoError(t, err)
	assert.Equal(t, gpio.PullDown, pin.P)
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	in.now = func() time.Time { return clock }
	assert.False(t, in.Active())
	assert.False(t, in.Open())

	set := func(l gpio.Level, after time.Duration) {
		clock = clock.Add(after)
		require.NoError(t, pin.Out(l))
		in.sample()
	}
	set(gpio.High, time.Second)
	assert.True(t, in.Active())
	// Contact bounce within the debounce window is ignored.
	set(gpio.Low, 5*time.Millisecond)
	set(gpio.High, 5*time.Millisecond)
	set(gpio.Low, 5*time.Millisecond)
	assert.True(t, in.Active())
	assert.Equal(t, uint64(1), in.changes)
	// The level that settles is taken at the next poll after the window.
	set(gpio.Low, 50*time.Millisecond)
	assert.False(t, in.Active())
	assert.True(t, in.Open(), "held open after the sensor goes quiet")
	clock = clock.Add(9 * time.Second)
	assert.True(t, in.Open())
	clock = clock.Add(time.Second)
	assert.False(t, in.Open())
}

func TestInputActiveLowAndRun(t *testing.T) {
	pin := &gpiotest.Pin{N: "PIR2", EdgesChan: make(chan gpio.Level, 16)}
	in, err := NewInput(pin, GPIOInput{Pull: "up", ActiveLow: true}, nil)
	require.NoError(t, err)
	assert.False(t, in.Active(), "pulled up + active low = inactive")
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = in.Run(ctx) }()
	pin.EdgesChan <- gpio.Low // the fake sets the level when it delivers the edge
	require.Eventually(t, in.Active, wait, time.Millisecond)
	pin.EdgesChan <- gpio.High
	require.Eventually(t, func() bool { return !in.Active() }, wait, time.Millisecond)
	cancel()
	wg.Wait()
}

func TestInputNeedsEdgeSupport(t *testing.T) {
	_, err := NewInput(&gpiotest.Pin{N: "NOEDGE"}, GPIOInput{Pull: "down"}, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "gpio.input.pin NOEDGE")
}

func TestOutputClasses(t *testing.T) {
	for _, tc := range []struct {
		on             string
		known, unknown int
		want           bool
	}{
		{"known", 1, 0, true}, {"known", 0, 2, false},
		{"unknown", 1, 0, false}, {"unknown", 0, 2, true},
		{"any", 1, 0, true}, {"any", 0, 1, true}, {"any", 0, 0, false},
	} {
		pin := &gpiotest.Pin{N: "LED"}
		o, err := NewOutput(pin, GPIOOutput{On: tc.on})
		require.NoError(t, err)
		require.NoError(t, o.Update(tc.known, tc.unknown))
		assert.Equal(t, tc.want, o.On(), "%+v", tc)
		assert.Equal(t, gpio.Level(tc.want), pin.Read(), "%+v", tc)
		require.NoError(t, o.Off())
		assert.Equal(t, gpio.Low, pin.Read())
	}
	pin := &gpiotest.Pin{N: "RELAY"}
	o, err := NewOutput(pin, GPIOOutput{On: "any", ActiveLow: true})
	require.NoError(t, err)
	assert.Equal(t, gpio.High, pin.Read(), "active-low output starts released (high)")
	require.NoError(t, o.Update(1, 0))
	assert.Equal(t, gpio.Low, pin.Read())
}

func TestOpenGPIO(t *testing.T) {
	in, out, err := OpenGPIO(GPIOConfig{}, nil)
	require.NoError(t, err, "no pin configured: nothing to open, no error")
	assert.Nil(t, in)
	assert.Nil(t, out)

	_, _, err = OpenGPIO(GPIOConfig{Input: GPIOInput{Pin: "GPIO_DOES_NOT_EXIST", Pull: "down"}}, nil)
	require.Error(t, err, "a configured pin that is not there is an error")
	assert.Contains(t, err.Error(), `gpio.input.pin "GPIO_DOES_NOT_EXIST"`)
	t.Logf("on this machine: %v", err)

	fakeIn := &gpiotest.Pin{N: "VIGILTEST_IN", Num: 9001, EdgesChan: make(chan gpio.Level, 1)}
	fakeOut := &gpiotest.Pin{N: "VIGILTEST_OUT", Num: 9002}
	require.NoError(t, gpioreg.Register(fakeIn))
	require.NoError(t, gpioreg.Register(fakeOut))
	t.Cleanup(func() { _ = gpioreg.Unregister("VIGILTEST_IN"); _ = gpioreg.Unregister("VIGILTEST_OUT") })
	in, out, err = OpenGPIO(GPIOConfig{
		Input:  GPIOInput{Pin: "VIGILTEST_IN", Pull: "down"},
		Output: GPIOOutput{Pin: "VIGILTEST_OUT", On: "known"},
	}, nil)
	require.NoError(t, err)
	require.NotNil(t, in)
	require.NoError(t, out.Update(1, 0))
	assert.Equal(t, gpio.High, fakeOut.Read())
}
