#!/usr/bin/env bash
# fuzz.sh: run every Fuzz* target in the module for a bounded time each, print the execs of
# each target, and fail if any target fails.
#
#   scripts/fuzz.sh                  (FUZZTIME=10s per target: the CI budget)
#   FUZZTIME=10m scripts/fuzz.sh     (longer, on demand; any `go test -fuzztime` value,
#                                     e.g. 500000x for a number of execs)
#   scripts/fuzz.sh ./daemon/...     (only these packages; default ./...)
#
# Targets are found with `go test -list 'Fuzz.*'`, so a new FuzzXxx runs here without edits.
# A failing input is written by `go test` to PKG/testdata/fuzz/FuzzXxx/ (commit it with the
# fix: it then runs as a seed in every plain `go test`). Each target's output is kept in
# $FUZZLOG (default a temporary folder) and printed when the target fails.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
fuzztime=${FUZZTIME:-10s}
logdir=${FUZZLOG:-$(mktemp -d "${TMPDIR:-/tmp}/vigil-fuzz.XXXXXX")}
mkdir -p "$logdir"
pkgs=("$@")
[ ${#pkgs[@]} -gt 0 ] || pkgs=(./...)

# `go test -list` prints the matching names of a package, then "ok  <pkg> <time>".
listing=$(go test -list '^Fuzz' "${pkgs[@]}" 2>&1)
if [ $? -ne 0 ]; then
	printf '%s\n' "$listing" >&2
	echo "fuzz.sh: listing the fuzz targets failed (the packages must build)" >&2
	exit 1
fi
targets=$(printf '%s\n' "$listing" | awk '
	/^Fuzz/ { names[n++] = $1; next }
	/^ok[ \t]/ { for (i = 0; i < n; i++) print $2, names[i]; n = 0 }')
if [ -z "$targets" ]; then
	echo "fuzz.sh: no Fuzz targets found in ${pkgs[*]}" >&2
	exit 1
fi

count=$(printf '%s\n' "$targets" | wc -l)
echo "fuzz.sh: $count targets, $fuzztime each; logs in $logdir"
failed=()
total=0
while read -r pkg name; do
	log="$logdir/$(printf '%s' "$pkg" | tr '/' '_').$name.log"
	start=$(date +%s)
	go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "$pkg" >"$log" 2>&1
	rc=$?
	secs=$(( $(date +%s) - start ))
	execs=$(grep -o 'execs: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
	# A run too short for go test's progress line reports no count: shown as "?".
	total=$((total + ${execs:-0}))
	execs=${execs:-?}
	if [ $rc -eq 0 ]; then
		printf '%-4s %-40s %-24s %12s execs %5ss\n' ok "$pkg" "$name" "$execs" "$secs"
	else
		printf '%-4s %-40s %-24s %12s execs %5ss\n' FAIL "$pkg" "$name" "$execs" "$secs"
		sed 's/^/    /' "$log"
		failed+=("$pkg $name")
	fi
done <<<"$targets"

echo "fuzz.sh: $total execs in all"
if [ ${#failed[@]} -gt 0 ]; then
	echo "fuzz.sh: ${#failed[@]} of $count targets failed:" >&2
	printf '  %s\n' "${failed[@]}" >&2
	exit 1
fi
echo "fuzz.sh: all $count targets passed"
