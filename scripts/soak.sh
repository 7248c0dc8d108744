#!/usr/bin/env bash
# soak.sh: run the load test (cmd/vigil TestRunLoad: `vigil run` with three cameras on
# looping folders of photographs at 10 fps, against a real mosquitto) for an hour and print
# its figures: frames/s processed and dropped, events, goroutines, RSS and the Go heap at the
# start and end, and a line a minute in between. From 10 minutes on, the test also fails when RSS grows
# 5% or more after its two-minute warm-up, or when goroutines leak.
#
#   scripts/soak.sh                    (SOAK_SECONDS=3600)
#   SOAK_SECONDS=600 scripts/soak.sh   (shorter)
#
# Needs what the test needs (scripts/setup.sh): mosquitto, OpenCV, the photographs in
# ../shared/testdata. The full log is kept in $SOAK_LOG (default a temporary file).
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
seconds=${SOAK_SECONDS:-3600}
case $seconds in
'' | *[!0-9]*)
	echo "soak.sh: SOAK_SECONDS must be a whole number of seconds, got '$seconds'" >&2
	exit 2
	;;
esac
log=${SOAK_LOG:-$(mktemp "${TMPDIR:-/tmp}/vigil-soak.XXXXXX")}
# go test's own timeout: the run, the warm-up, start-up and shut-down, with room to spare.
timeout=$((seconds + 900))s

echo "soak.sh: TestRunLoad for ${seconds}s (go test -timeout $timeout); log in $log"
VIGIL_LOAD_SECONDS=$seconds go test -count=1 -v -timeout "$timeout" -run '^TestRunLoad$' ./cmd/vigil 2>&1 |
	tee "$log" | grep --line-buffered -E 'load|^(--- |ok|FAIL|PASS|panic)|Error'
rc=${PIPESTATUS[0]}
if [ "$rc" -ne 0 ]; then
	echo "soak.sh: FAILED (go test exit $rc); full log: $log" >&2
	exit "$rc"
fi
echo "soak.sh: passed"
