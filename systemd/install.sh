#!/usr/bin/env bash
# install.sh: install vigil as a systemd service.
#
#   systemd/install.sh [BINARY]      (default: build/vigil; `make install` builds it first)
#
# Installs BINARY as $PREFIX/bin/vigil (PREFIX=/usr/local), the unit as
# /etc/systemd/system/vigil.service, and the example configuration as /etc/vigil/vigil.yaml
# (only when there is none: an existing configuration is never overwritten; the example is
# always refreshed as /etc/vigil/vigil.example.yaml). Creates the system user vigil in the
# groups video and gpio (creating those groups when the machine lacks them).
#
# With DESTDIR set, installs into that staging root and touches no users and no systemd: for
# packaging and for the test in this folder. Safe to run again (upgrades the binary and unit).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=${1:-$root/build/vigil}
prefix=${PREFIX:-/usr/local}
destdir=${DESTDIR:-}

die() { printf 'install: error: %s\n' "$*" >&2; exit 1; }
say() { printf 'install: %s\n' "$*"; }

if [ ! -f "$bin" ] || [ ! -x "$bin" ]; then
	die "no executable at $bin: run 'make build' first or name the binary"
fi
if [ -z "$destdir" ] && [ "$(id -u)" -ne 0 ]; then
	die "must run as root (or set DESTDIR to stage the files)"
fi

if [ -z "$destdir" ]; then
	for g in video gpio; do
		getent group "$g" >/dev/null || { groupadd --system "$g"; say "created group $g"; }
	done
	if id vigil >/dev/null 2>&1; then
		usermod --append --groups video,gpio vigil
	else
		useradd --system --user-group --groups video,gpio --home-dir /var/lib/vigil \
			--no-create-home --shell /usr/sbin/nologin --comment "vigil daemon" vigil
		say "created system user vigil (groups video, gpio)"
	fi
fi

install -D -m 0755 "$bin" "$destdir$prefix/bin/vigil"
say "installed $prefix/bin/vigil"

unit=$destdir/etc/systemd/system/vigil.service
install -d -m 0755 "$(dirname "$unit")"
sed "s#^ExecStart=/usr/local/bin/vigil #ExecStart=$prefix/bin/vigil #" "$root/systemd/vigil.service" >"$unit.tmp"
chmod 0644 "$unit.tmp"
mv -f "$unit.tmp" "$unit"
say "installed /etc/systemd/system/vigil.service"

conf=$destdir/etc/vigil
install -d -m 0755 "$conf"
install -m 0644 "$root/daemon/vigil.example.yaml" "$conf/vigil.example.yaml"
if [ -e "$conf/vigil.yaml" ]; then
	say "kept the existing /etc/vigil/vigil.yaml"
else
	# Readable by the service, not by everyone: it may hold the MQTT password.
	install -m 0640 "$root/daemon/vigil.example.yaml" "$conf/vigil.yaml"
	[ -n "$destdir" ] || chgrp vigil "$conf/vigil.yaml"
	say "installed /etc/vigil/vigil.yaml from the example: edit it before starting"
fi

if [ -z "$destdir" ] && [ -d /run/systemd/system ]; then
	systemctl daemon-reload
	say "next: edit /etc/vigil/vigil.yaml, check it with 'vigil run --config /etc/vigil/vigil.yaml --check', then 'systemctl enable --now vigil'"
else
	say "systemd is not running here: the unit is installed but not loaded"
fi
