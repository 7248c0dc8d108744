// Package systemd holds vigil's systemd unit (vigil.service) and install script (install.sh).
// It has no code: its tests check the unit with systemd-analyze (verify must print nothing;
// the security exposure score must stay under a bound) and check the hardening it promises,
// and run the install script into a staging root.
package systemd
