// Package daemon is what `vigil run` runs: configuration, the per-camera tracker and event
// generation, MQTT publishing with an on-disk queue, Home Assistant discovery, commands,
// the HTTP health/metrics/preview server, systemd notification and GPIO.
//
// Invariants: the whole configuration is validated before any hardware, file or network is
// touched; events are never dropped by back-pressure (frames are), only by the configured
// bound of the on-disk queue, and those drops are counted and logged; an event leaves the
// queue only after the broker acknowledged it (QoS 1), so delivery is at-least-once and
// in order, and each event carries a sequence number ("seq") that lets subscribers drop
// duplicates.
package daemon
