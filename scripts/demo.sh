#!/usr/bin/env bash
# demo.sh: vigil working end to end on this machine, in about half a minute.
#
# It builds vigil, starts a private mosquitto on a free loopback port, enrols two people from one
# photograph each (../shared/testdata/johns), makes a short video in which those two and a third,
# never enrolled, person appear one after the other (other photographs of them), runs
# `vigil run` on that video and prints what an MQTT subscriber sees: availability, one `new` and
# one `end` event per person (the third one named "unknown"), retained presence counts, stats and
# the Home Assistant discovery configs. Everything stays on 127.0.0.1 and in a temporary folder.
#
# Needs what scripts/setup.sh installs (Go, OpenCV, mosquitto, mosquitto-clients, ffmpeg, the model
# files). Run from anywhere: scripts/demo.sh
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
testdata=${VIGIL_TESTDATA:-$root/../shared/testdata}
export PATH=$PATH:/usr/local/go/bin
say() { printf '\033[1mdemo:\033[0m %s\n' "$*"; }
die() { printf 'demo: error: %s\n' "$*" >&2; exit 1; }

for tool in go mosquitto mosquitto_sub ffmpeg; do
	command -v "$tool" >/dev/null 2>&1 || die "$tool is missing: run scripts/setup.sh first"
done
[ -d "$testdata/johns" ] || die "no photographs at $testdata/johns (set VIGIL_TESTDATA)"

work=$(mktemp -d /tmp/vigil-demo.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

say "building vigil"
(cd "$root" && go build -o "$work/vigil" ./cmd/vigil)
vigil=$work/vigil

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
{
	echo "listener $port 127.0.0.1"
	echo "allow_anonymous true"
	echo "persistence false"
	[ "$(id -u)" -eq 0 ] && echo "user root"
} >"$work/mosquitto.conf"
mosquitto -c "$work/mosquitto.conf" >"$work/mosquitto.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do
	(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
	sleep 0.1
done
say "mosquitto listening on 127.0.0.1:$port"

photo() { find "$testdata/johns/$1" -name '*.jpg' | sort | sed -n "${2}p"; }
for who in John_Salley John_Savage; do
	say "enrolling $who from $(basename "$(photo "$who" 1)")"
	"$vigil" enroll --gallery "$work/gallery" --largest "$who" "$(photo "$who" 1)"
done

say "making a video: John_Salley, John_Savage, then John_Schneider (not enrolled), 1.5 s each"
segments=()
i=0
for who in John_Salley John_Savage John_Schneider; do
	ffmpeg -loglevel error -y -loop 1 -t 1.5 -i "$(photo "$who" 2)" \
		-vf "scale=150:150,pad=480:360:165:105:color=0x5a646e,format=yuvj420p" -r 10 -c:v mjpeg -q:v 3 "$work/seg$i.avi"
	ffmpeg -loglevel error -y -f lavfi -i "color=c=0x5a646e:s=480x360:d=1:r=10" \
		-vf format=yuvj420p -c:v mjpeg -q:v 3 "$work/gap$i.avi"
	segments+=("file '$work/seg$i.avi'" "file '$work/gap$i.avi'")
	i=$((i + 1))
done
printf '%s\n' "${segments[@]}" >"$work/list.txt"
ffmpeg -loglevel error -y -f concat -safe 0 -i "$work/list.txt" -c copy "$work/door.avi"

cat >"$work/vigil.yaml" <<EOF
device: demo
mqtt: {broker: "tcp://127.0.0.1:$port", queue: {dir: "$work/queue"}, stats_interval: 2s}
gallery: $work/gallery
http: {listen: "127.0.0.1:0"}
cameras:
  - {name: door, source: "$work/door.avi", fps: 10, motion: {enabled: false}}
thresholds: {confirm: 2, absence: 400ms, min_face: 20}
log: {level: warn}
EOF
"$vigil" run --config "$work/vigil.yaml" --check

say "subscribing to vigil/# and homeassistant/#, then running: vigil run --config vigil.yaml"
mosquitto_sub -h 127.0.0.1 -p "$port" -v -t 'vigil/#' -t 'homeassistant/#' >"$work/mqtt.log" &
pids+=($!)
sleep 0.5
"$vigil" run --config "$work/vigil.yaml" &
vpid=$!
pids+=($vpid)
for _ in $(seq 150); do
	[ "$(grep -c '"type":"end"' "$work/mqtt.log" 2>/dev/null || true)" -ge 3 ] && break
	sleep 0.2
done
sleep 2.5 # one more stats message
kill -TERM "$vpid"
wait "$vpid" || true
sleep 0.5

say "what the subscriber saw (events, presence, availability, stats; discovery configs abridged):"
sed -E 's/^(homeassistant\/[^ ]+) .*/\1 {...}/' "$work/mqtt.log"
ends=$(grep -c '"type":"end"' "$work/mqtt.log" || true)
names=$(grep -o '"type":"new"[^}]*"name":"[^"]*"' "$work/mqtt.log" | sed -E 's/.*"name":"([^"]*)"/\1/' | paste -sd, -)
say "new events named: ${names:-none}; end events: $ends"
[ "$ends" -ge 3 ] || die "expected three people to come and go"
