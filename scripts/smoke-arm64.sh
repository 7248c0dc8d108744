#!/usr/bin/env bash
# smoke-arm64.sh: run the arm64 daemon binary under qemu-aarch64 on real photographs and
# compare `vigil detect --json` with the amd64 build's.
#
#   scripts/smoke-arm64.sh [BUILD]     (default: build)
#
# Builds BUILD/vigil (amd64) and BUILD/linux-arm64/vigil (scripts/cross-arm64.sh), and unpacks
# the arm64 runtime libraries the binary needs (the OpenCV libraries and everything they load,
# about 400 Debian packages, 210 MB, downloaded once) into BUILD/runroot-arm64 for qemu.
# Nothing arm64 is installed on this machine.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
build=${1:-build}
case "$build" in /*) ;; *) build=$root/$build ;; esac
runroot=$build/runroot-arm64
debs=$build/runroot-arm64-debs
photos=${SMOKE_PHOTOS:-$root/../shared/testdata/faces}

say() { printf 'smoke-arm64: %s\n' "$*"; }
die() { printf 'smoke-arm64: error: %s\n' "$*" >&2; exit 1; }
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then export PATH=/usr/local/go/bin:$PATH; fi
command -v qemu-aarch64 >/dev/null || die "qemu-aarch64 missing: run scripts/setup.sh (package qemu-user)"

"$root/scripts/cross-arm64.sh" "$build"
say "building $build/vigil (amd64)"
go build -trimpath -o "$build/vigil" ./cmd/vigil

if [ ! -f "$runroot/.complete" ]; then
	# The shared libraries OpenCV's runtime packages need, as apt resolves them for arm64.
	libs=()
	for m in core imgproc imgcodecs videoio highgui dnn objdetect features2d calib3d photo video; do
		libs+=("libopencv-$m""406:arm64")
	done
	mapfile -t pkgs < <(apt-get install -s -q "${libs[@]}" 2>/dev/null | awk '/^Inst/ {print $2}' | sort)
	[ ${#pkgs[@]} -gt 10 ] || die "could not resolve the arm64 runtime packages (apt-get install -s ${libs[*]})"
	say "downloading ${#pkgs[@]} arm64 runtime packages into $debs"
	rm -rf "$debs" "$runroot"
	mkdir -p "$debs" "$runroot"
	chmod 0777 "$debs"
	(cd "$debs" && apt-get download -q "${pkgs[@]}" >/dev/null) || die "apt-get download failed"
	for d in "$debs"/*.deb; do dpkg -x "$d" "$runroot"; done
	printf '%s\n' "${pkgs[@]}" >"$runroot/.complete"
fi
# dpkg -x runs no maintainer scripts, so alternatives (BLAS, LAPACK) are not linked: put every
# folder that holds a shared library on the search path instead.
ldpath=$(find "$runroot" -name '*.so*' -printf '%h\n' | sort -u | paste -sd:)

mapfile -t imgs < <(find "$photos" -maxdepth 1 -name '*.jpg' | sort)
[ ${#imgs[@]} -gt 0 ] || die "no photographs in $photos"
out=$build/smoke-arm64
mkdir -p "$out"
say "vigil detect on ${#imgs[@]} photographs: amd64"
"$build/vigil" detect --json "${imgs[@]}" >"$out/amd64.json"
say "vigil detect on ${#imgs[@]} photographs: arm64 under qemu-aarch64"
QEMU_LD_PREFIX=$runroot qemu-aarch64 -E LD_LIBRARY_PATH="$ldpath" "$build/linux-arm64/vigil" detect --json "${imgs[@]}" >"$out/arm64.json"
go run ./scripts/smokecmp "$out/amd64.json" "$out/arm64.json"
