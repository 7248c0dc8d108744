#!/usr/bin/env bash
# cross-arm64.sh: build the full vigil daemon for linux/arm64 with cgo and gocv, against
# Debian's arm64 OpenCV unpacked into a private sysroot.
#
#   scripts/cross-arm64.sh [BUILD]     (default: build; output BUILD/linux-arm64/vigil)
#
# Debian cannot install libopencv-dev for amd64 and arm64 side by side (the -dev packages are
# not Multi-Arch: same), and installing the arm64 one would remove the amd64 one the tests
# need. So the arm64 OpenCV packages are only downloaded and unpacked (dpkg -x) under
# BUILD/sysroot-arm64, never installed. Only the libopencv packages are fetched, not the
# hundreds of libraries they depend on (FFmpeg, GTK, ...): the link uses
# --allow-shlib-undefined, and those libraries come from the Pi's own packages at run time
# (apt install libopencv-core406 libopencv-imgproc406 ... or libopencv-dev on the Pi).
#
# Needs (scripts/setup.sh installs them): gcc/g++-aarch64-linux-gnu, libc6-dev-arm64-cross;
# and once, as root, the arm64 architecture in dpkg plus its package lists, which this script
# adds when missing.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-build}
case "$build" in /*) ;; *) build=$root/$build ;; esac
sysroot=$build/sysroot-arm64
debs=$build/debs-arm64
out=$build/linux-arm64

say() { printf 'cross-arm64: %s\n' "$*"; }
die() { printf 'cross-arm64: error: %s\n' "$*" >&2; exit 1; }

as_root() {
	if [ "$(id -u)" -eq 0 ]; then "$@"
	elif command -v sudo >/dev/null 2>&1; then sudo "$@"
	else die "need root for: $*"
	fi
}

command -v aarch64-linux-gnu-g++ >/dev/null || die "aarch64-linux-gnu-g++ missing: run scripts/setup.sh"
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then export PATH=/usr/local/go/bin:$PATH; fi

if [ ! -f "$sysroot/.complete" ]; then
	if ! dpkg --print-foreign-architectures | grep -qx arm64; then
		say "adding the arm64 architecture to dpkg (package lists only; nothing arm64 is installed)"
		as_root dpkg --add-architecture arm64
		as_root apt-get update -q
	elif ! apt-cache policy libopencv-core406:arm64 2>/dev/null | awk '/Candidate:/ {print $2}' | grep -qv '(none)'; then
		as_root apt-get update -q
	fi
	# Every libopencv package that libopencv-dev:arm64 pulls in (the set apt would install),
	# without the Java bindings; nothing else.
	mapfile -t pkgs < <(apt-get install -s -q libopencv-dev:arm64 2>/dev/null |
		awk '/^Inst/ {print $2}' | grep '^libopencv' | grep -v -e jni -e java | sort)
	[ ${#pkgs[@]} -gt 10 ] || die "could not resolve the arm64 OpenCV packages (apt-get install -s libopencv-dev:arm64)"
	say "downloading ${#pkgs[@]} arm64 OpenCV packages into $debs"
	rm -rf "$debs" "$sysroot"
	mkdir -p "$debs" "$sysroot"
	# apt's download sandbox user must be able to write there.
	chmod 0777 "$debs"
	(cd "$debs" && apt-get download -q "${pkgs[@]}") || die "apt-get download failed"
	for d in "$debs"/*.deb; do
		dpkg -x "$d" "$sysroot"
	done
	[ -f "$sysroot/usr/lib/aarch64-linux-gnu/pkgconfig/opencv4.pc" ] || die "no opencv4.pc in the arm64 sysroot"
	printf '%s\n' "${pkgs[@]}" >"$sysroot/.complete"
	say "sysroot ready: $sysroot"
fi

libdir=$sysroot/usr/lib/aarch64-linux-gnu
export PKG_CONFIG_LIBDIR=$libdir/pkgconfig
export PKG_CONFIG_SYSROOT_DIR=$sysroot
export PKG_CONFIG_PATH=
export CGO_ENABLED=1 GOOS=linux GOARCH=arm64
export CC=aarch64-linux-gnu-gcc CXX=aarch64-linux-gnu-g++
export CGO_LDFLAGS="-Wl,--allow-shlib-undefined -Wl,-rpath-link,$libdir"
mkdir -p "$out"
say "building $out/vigil (cgo, gocv against OpenCV $(pkg-config --modversion opencv4) for arm64)"
go build -trimpath -o "$out/vigil" ./cmd/vigil
file "$out/vigil" 2>/dev/null || true
say "done: $out/vigil"
