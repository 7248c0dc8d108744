# vigil: build, test and install. `make help` lists the targets.
#
# The tests need no service running beforehand (MQTT tests start their own mosquitto on a free
# loopback port) and no network (model files come from scripts/fetch-models.sh, run by setup).

# Go 1.26 lives in /usr/local/go on the project's machines; sudo and some shells drop it from PATH.
export PATH := $(PATH):/usr/local/go/bin
GO        ?= go
BUILD     ?= build
# matprofile makes gocv count live Mats so the capture tests can fail on a leak. It is set for
# the whole run rather than for ./capture/ alone so that gocv's C++ is compiled once, not twice.
TESTTAGS  ?= matprofile
TESTFLAGS ?= -count=1 -timeout 25m
# gocv must never open a window in a test; offscreen keeps highgui quiet if anything touches it.
export QT_QPA_PLATFORM ?= offscreen

# Packages that are plain Go and must cross-compile without cgo (DEVELOPERS.md: only capture,
# daemon's capture wiring and cmd/vigil need gocv).
PUREPKGS  ?= ./infer/... ./quant/... ./neon/... ./detect/... ./face/...

# Packages whose tests run whole under qemu-aarch64 in test-arm64: the kernels, the engine, the
# maths and the embedded models' bit-identity check. detect and face run the tests that do not
# evaluate whole detectors over many photographs (minutes each under emulation); their
# int8 models are covered on arm64 by ./models/ (bit-identical outputs on a real photo) and
# face's TestJohnsChipsEmbeddedInt8.
QEMUPKGS  ?= ./neon/... ./quant/... ./infer/ ./models/
QEMUDETECT ?= 'Imglab|Evaluate|IoU|NMS|SoftNMS|Decode|Pyramid|Options|Letterbox'
QEMUFACE   ?= 'Template|Similarity|Align|Warp|CropBox|Quality|ValidateName|GalleryOperations|GalleryRefuses|GalleryConcurrent|Normalize|Matcher|Vote|Verification|RankOne|Triplet|Head|JohnsChipsEmbeddedInt8'
ARM64TEST  = CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) test -count=1 -exec qemu-aarch64

.PHONY: help setup models-fetch test vet build cross cross-pure cross-full test-arm64 smoke-arm64 models demo fuzz soak install clean

help:
	@echo "make setup    install Debian packages, Go modules and model files (scripts/setup.sh)"
	@echo "make test     go vet, then every test (QT_QPA_PLATFORM=offscreen, -tags matprofile)"
	@echo "make build    build $(BUILD)/vigil for this machine"
	@echo "make cross    build linux/arm64: pure-Go packages with CGO_ENABLED=0, and the full daemon"
	@echo "make test-arm64  run the kernel tests under qemu-aarch64 (Pi 5 CPU, then Pi 4 CPU)"
	@echo "make smoke-arm64 run the arm64 daemon's 'vigil detect' under qemu and compare with amd64"
	@echo "make models   regenerate the embedded .vq models from the pinned model files"
	@echo "make demo     vigil end to end with a private mosquitto and a short video (~30 s)"
	@echo "make fuzz     every fuzz target for FUZZTIME (default 10s) each"
	@echo "make soak     the three-camera load test of vigil run for an hour (SOAK_SECONDS)"
	@echo "make install  install binary, unit and example config (root; systemd/install.sh)"

setup:
	scripts/setup.sh

models-fetch:
	scripts/fetch-models.sh

vet:
	$(GO) vet -tags '$(TESTTAGS)' ./...

test: vet
	$(GO) test -tags '$(TESTTAGS)' $(TESTFLAGS) ./...
	$(MAKE) test-arm64

build:
	@mkdir -p $(BUILD)
	$(GO) build -trimpath -o $(BUILD)/vigil ./cmd/vigil

cross: cross-pure cross-full

# Every package that does not need gocv, for linux/arm64 without cgo: the core packages by name
# (so that one which starts to need cgo fails here loudly), and whatever else does not import
# gocv (daemon, models, ...), found from the import graph.
cross-pure:
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build $(PUREPKGS)
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build $$(CGO_ENABLED=0 GOOS=linux GOARCH=arm64 \
		$(GO) list -f '{{.ImportPath}} {{join .Deps " "}}' ./... | awk '!/gocv\.io/ {print $$1}')
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) vet $(PUREPKGS)

# The default qemu CPU has dotprod (SDOT, as a Pi 5's Cortex-A76); cortex-a72 (a Pi 4) has not,
# so the second run tests the SMULL/SADALP path.
test-arm64:
	for cpu in max cortex-a72; do \
		QEMU_CPU=$$cpu $(ARM64TEST) $(QEMUPKGS) && \
		QEMU_CPU=$$cpu $(ARM64TEST) -run $(QEMUDETECT) ./detect/ && \
		QEMU_CPU=$$cpu $(ARM64TEST) -run $(QEMUFACE) ./face/ || exit 1; \
	done

# The full daemon with cgo and gocv against Debian's arm64 OpenCV in a private sysroot.
cross-full:
	scripts/cross-arm64.sh $(BUILD)

# The arm64 binary under qemu-aarch64 on the shared photographs, against the amd64 build.
smoke-arm64:
	scripts/smoke-arm64.sh $(BUILD)

# Rebuild the embedded int8 models from the pinned weights (byte-for-byte reproducible; the
# models/build test checks the committed files are what this makes).
models:
	$(GO) run ./cmd/vigil models build

# vigil working end to end: a private mosquitto, two enrolled people, a short video.
demo:
	scripts/demo.sh

# Every fuzz target for FUZZTIME each (10s by default; FUZZTIME=10m make fuzz for longer).
fuzz:
	scripts/fuzz.sh

# The load test of `vigil run` (three cameras) for an hour (SOAK_SECONDS overrides).
soak:
	scripts/soak.sh

install: build
	systemd/install.sh $(BUILD)/vigil

clean:
	rm -rf $(BUILD)
