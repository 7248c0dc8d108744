package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/host/v3"
)

// Gate says whether capture should run now. A PIR sensor on a GPIO input is one; AlwaysOpen
// is the null object used when no input pin is configured.
type Gate interface {
	// Open reports whether frames should be processed now.
	Open() bool
}

// AlwaysOpen is the Gate without a sensor.
type AlwaysOpen struct{}

// Open implements Gate.
func (AlwaysOpen) Open() bool { return true }

var (
	_ Gate = AlwaysOpen{}
	_ Gate = (*Input)(nil)
)

// inputPoll bounds how long the input loop blocks in WaitForEdge, so it notices ctx and
// re-reads a level that settled inside the debounce window.
const inputPoll = 100 * time.Millisecond

// Input is a sensor pin (e.g. a PIR) that gates capture: edges are detected, changes closer
// than the debounce interval to the previous accepted change are ignored (the level is read
// again at the next edge or poll, so the settled level always wins), and the gate stays open
// for the hold time after the sensor goes inactive.
type Input struct {
	pin       gpio.PinIn
	debounce  time.Duration
	hold      time.Duration
	activeLow bool
	log       *slog.Logger
	now       func() time.Time

	mu            sync.Mutex
	active        bool
	lastChange    time.Time
	inactiveSince time.Time
	changes       uint64
}

// NewInput configures pin for edge detection.
func NewInput(pin gpio.PinIn, c GPIOInput, log *slog.Logger) (*Input, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	pull := map[string]gpio.Pull{"up": gpio.PullUp, "down": gpio.PullDown, "none": gpio.Float}[c.Pull]
	if err := pin.In(pull, gpio.BothEdges); err != nil {
		return nil, fmt.Errorf("gpio.input.pin %s: set input with edge detection: %w", pin, err)
	}
	in := &Input{pin: pin, debounce: c.Debounce.D(), hold: c.Hold.D(), activeLow: c.ActiveLow, log: log, now: time.Now}
	in.sample()
	return in, nil
}

// sample reads the level and accepts a change unless it comes within debounce of the last.
func (in *Input) sample() {
	level := in.pin.Read()
	active := (level == gpio.High) != in.activeLow
	now := in.now()
	in.mu.Lock()
	defer in.mu.Unlock()
	if active == in.active {
		return
	}
	if !in.lastChange.IsZero() && now.Sub(in.lastChange) < in.debounce {
		return
	}
	in.active = active
	in.lastChange = now
	in.changes++
	if !active {
		in.inactiveSince = now
	}
	in.log.Debug("gpio: input changed", "pin", in.pin.String(), "active", active)
}

// Run watches the pin until ctx ends.
func (in *Input) Run(ctx context.Context) error {
	for ctx.Err() == nil {
		in.pin.WaitForEdge(inputPoll)
		in.sample()
	}
	return nil
}

// Active reports the debounced sensor state.
func (in *Input) Active() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.active
}

// Open implements Gate: active, or inactive for less than the hold time.
func (in *Input) Open() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.active {
		return true
	}
	return !in.inactiveSince.IsZero() && in.now().Sub(in.inactiveSince) < in.hold
}

// Output drives an LED or relay while faces of the configured class are present.
type Output struct {
	pin       gpio.PinOut
	on        string // known, unknown, any
	activeLow bool

	mu    sync.Mutex
	state bool
}

// NewOutput sets pin to its inactive level.
func NewOutput(pin gpio.PinOut, c GPIOOutput) (*Output, error) {
	o := &Output{pin: pin, on: c.On, activeLow: c.ActiveLow}
	if err := pin.Out(o.level(false)); err != nil {
		return nil, fmt.Errorf("gpio.output.pin %s: set output: %w", pin, err)
	}
	return o, nil
}

func (o *Output) level(on bool) gpio.Level { return gpio.Level(on != o.activeLow) }

// Update sets the pin from the number of known and unknown faces in view (all cameras).
func (o *Output) Update(known, unknown int) error {
	want := false
	switch o.on {
	case "known":
		want = known > 0
	case "unknown":
		want = unknown > 0
	default:
		want = known+unknown > 0
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if want == o.state {
		return nil
	}
	if err := o.pin.Out(o.level(want)); err != nil {
		return fmt.Errorf("gpio.output.pin %s: %w", o.pin, err)
	}
	o.state = want
	return nil
}

// On reports whether the output is driven.
func (o *Output) On() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.state
}

// Off releases the output to its inactive level (on shutdown).
func (o *Output) Off() error { return o.Update(0, 0) }

// OpenGPIO opens the configured pins. With no pin configured it touches nothing and returns
// nils. On a machine without GPIO, or with a wrong pin name, it says so and lists the pins
// periph found.
func OpenGPIO(c GPIOConfig, log *slog.Logger) (*Input, *Output, error) {
	if c.Input.Pin == "" && c.Output.Pin == "" {
		return nil, nil, nil
	}
	if _, err := host.Init(); err != nil {
		return nil, nil, fmt.Errorf("gpio: initialise the GPIO drivers: %w", err)
	}
	var in *Input
	var out *Output
	if c.Input.Pin != "" {
		p, err := lookupPin("gpio.input.pin", c.Input.Pin)
		if err != nil {
			return nil, nil, err
		}
		if in, err = NewInput(p, c.Input, log); err != nil {
			return nil, nil, err
		}
	}
	if c.Output.Pin != "" {
		p, err := lookupPin("gpio.output.pin", c.Output.Pin)
		if err != nil {
			return nil, nil, err
		}
		if out, err = NewOutput(p, c.Output); err != nil {
			return nil, nil, err
		}
	}
	return in, out, nil
}

func lookupPin(key, name string) (gpio.PinIO, error) {
	if p := gpioreg.ByName(name); p != nil {
		return p, nil
	}
	all := gpioreg.All()
	if len(all) == 0 {
		return nil, fmt.Errorf("%s %q: this machine has no GPIO that periph can drive (no GPIO driver loaded: not a Raspberry Pi/Jetson, or /dev/gpiochip* and /sys/class/gpio are not accessible to this user); remove the pin from the gpio section to run without it", key, name)
	}
	var names []string
	for i, p := range all {
		if i == 20 {
			names = append(names, "...")
			break
		}
		names = append(names, p.Name())
	}
	return nil, fmt.Errorf("%s %q: no such pin; this machine has %d, e.g. %s", key, name, len(all), strings.Join(names, ", "))
}
