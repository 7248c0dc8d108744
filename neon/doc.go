// Package neon holds vigil's int8 compute kernels: GEMM with a fused
// requantization epilogue (convolutions through im2col, or directly for 1x1,
// and fully connected layers), direct convolution for small-channel inputs, depthwise 3x3 convolution, requantization,
// elementwise add and pooling. Tensors are NHWC flat slices; activations are
// int8 asymmetric per tensor, weights int8 symmetric per output channel in
// [-127, 127] (every kernel is also exact for -128).
//
// # Invariants
//
// Every kernel has a pure-Go reference that is always compiled (no build
// tag) and every SIMD implementation produces bit-identical results to it:
// requantization is integer only and defined once, by Requantize, and the
// assembly epilogues perform the same integer steps. The tests run the same
// body once per implementation the CPU offers, against a plain triple loop.
// Kernels allocate nothing.
//
// # API
//
//   - Requantize and QuantizeMultiplier: the integer rescale and its
//     parameters.
//   - Pack packs weights [N][K] once at model load (panels of 16 output
//     channels, 4 consecutive k per channel: the SDOT/VPDPBUSD layout).
//     Gemm computes dst = epilogue(A x W^T) with a Requant (bias, multiplier
//     and shift per output channel, output zero point, clamp); GemmInt32
//     returns the raw int32 accumulators. Gemm is safe for concurrent use on
//     disjoint row ranges: a multi-threaded executor splits M across
//     goroutines and gets exactly the bytes of one thread.
//   - ConvDirect: a convolution without im2col, each output pixel reading
//     its window from a list of tap offsets (a small-channel input's window
//     rows, or one tap's channels); ConvDirectBiased reads a source biased by
//     XorCopy (activation XOR 0x80), natively where DirectBiased says so.
//   - DepthwiseConv3x3 (SIMD, stride 1 or 2) and DepthwiseConv (any window,
//     DWGeom; 3x3 goes to the SIMD path); Depthwise3x3 (NewDepthwise3x3)
//     prepares a layer's weights and Requant once and runs Conv, or
//     ConvBiased on pre-padded biased rows; RequantizeInt8 and AddInt8 (with
//     AddMultipliers; SIMD), MaxPoolInt8 and AvgPoolInt8 (with Pool; Go).
//   - Requant.Prepare keeps the per-panel epilogue parameters the kernels
//     would otherwise rebuild on every call (the Requant must not change
//     afterwards).
//   - Impl names the implementation chosen at start-up (vigil bench prints
//     it); Impls lists those this CPU can run; SetImpl switches, for tests
//     and benchmarks.
//
// # Implementations
//
// Chosen once at start-up from golang.org/x/sys/cpu, best first:
//
//	arm64-sdot        Armv8.2 dot product (Pi 5 Cortex-A76, Jetson Orin A78AE): cpu.ARM64.HasASIMDDP
//	arm64-smull       Armv8.0 (Pi 4 Cortex-A72): SMULL/SMULL2 (+SMLAL/SMLAL2) into int16, SADALP into int32
//	amd64-avx512vnni  VPDPBUSD on ZMM, two panels at once, activations biased by XOR 0x80
//	                  (undone with -128*RowSum); fast epilogue fused into the tiles; with
//	                  VBMI and BW: wide depthwise, AVX-512 add (else the AVX2 ones)
//	amd64-avxvnni     VEX VPDPBUSD on YMM (Alder Lake and later client cores, N100 mini PCs), same bias
//	amd64-avx2        VPMOVSXBW + VPMADDWD (VPMADDUBSW would saturate int16: 255*127*2 > 32767)
//	generic           pure Go: other architectures (armv7 included) and the purego tag
//
// The int16 products of the SMULL path are exact (|p| <= 128*128) and are
// summed in pairs into int32 by SADALP. At most two products meet in int16
// (SMULL then one SMLAL), and only for layers whose weights are all in
// [-127, 127] (Pack records it), where the sum cannot overflow; otherwise
// no SMLAL at all. Go's assembler only emits the EVEX form of VPDPBUSD, so
// the AVX-VNNI kernel spells the VEX form out in BYTEs (checked with GNU
// as); its epilogue, depthwise and add are the AVX2 ones. Depthwise 3x3, AddInt8 and RequantizeInt8 have SIMD kernels
// on both architectures (SMULL+SADDW and VPUNPCKLBW+VPMADDWD for the
// depthwise taps), max pooling takes VPMAXSB/SMAX over the channels;
// average pooling is Go.
//
// The fast epilogue (AVX-512, every shift r of a panel in [1, 22], which
// real layers' multipliers below 1/2 give; the full one otherwise) folds
// Requantize's two roundings and the zero point into one 64-bit add and
// arithmetic shift, floor((acc*mult + 2^30 + 2^(30+r) + zp*2^(31+r)) /
// 2^(31+r)): floor divisions compose, so the bytes are Requantize's. The
// two-panel and one-panel VNNI kernels apply it in registers (bias in the
// initial accumulators, four rows narrowed by VPACKSSDW/VPACKSSWB, or
// masked VPMOVSDB for partial panels), a block of rows at a time. The wide
// depthwise transposes four taps' bytes into dwords (VPUNPCK) so that one
// VPDPBUSD adds four taps of 64 outputs (64 channels of a pixel, or 2-4
// pixels of 32 or 16 channels), with parameters prepared once and 64-byte
// aligned. ConvDirect's VNNI kernel broadcasts each 4-byte group of a tap
// straight from the (padded, biased) source: the first layer of a
// detector and dilated small-channel layers need no im2col.
//
// Forcing a fallback: build with -tags purego (pure Go everywhere), or at run
// time GODEBUG=cpu.asimddp=off (arm64-smull instead of SDOT),
// GODEBUG=cpu.avx512f=off (AVX-VNNI or AVX2 instead of AVX-512 VNNI),
// GODEBUG=cpu.avx512f=off,cpu.avxvnni=off (AVX2), GODEBUG=cpu.avx2=off
// (generic: the VNNI paths need AVX2 too, for their epilogue). The runtime
// prints "GODEBUG: unknown cpu feature" for names only x/sys/cpu knows
// (asimddp, avx512vnni, avxvnni); the setting still takes effect.
//
// # Why Go assembly with WORD encodings rather than cgo
//
// The kernels are Go assembly (.s files): CGO_ENABLED=0 builds and
// cross-compiles (GOARCH=arm64 go build) keep the SIMD paths, there is no C
// toolchain in the board images, and a call costs a few nanoseconds instead
// of the cgo transition (~50-100 ns, too much for 32-row tiles). Go's arm64
// assembler has no SMULL, SADALP, SDOT, SQSHL, SQRDMULH, SRSHL, SMAX or SMIN,
// so gemm_arm64.s emits them as WORD $0x... with the mnemonic in a comment
// (encodings checked with GNU as). Assembly handles whole groups of 4 k and
// whole panels; Go assembles each row's last K%4 activations into a word
// (so no kernel reads past a row) and copies partial panels.
//
// Tests under qemu: GOARCH=arm64 go test -exec 'qemu-aarch64 -cpu cortex-a72'
// ./neon/ (with VIGIL_NEON_WANT_IMPL=arm64-smull to assert the choice; the
// A72 model has no dotprod, so an SDOT would fault) and -cpu cortex-a76
// (arm64-sdot).
//
// # Expected speed on the boards (per core, int8 GEMM, large K)
//
// These are estimates from instruction counts and the cores' published
// issue rates, not measurements (qemu cannot time them): check them with
// vigil bench or go test -bench Gemm ./neon/ on the board.
//
// One MAC is counted as 2 ops (GOP/s = 2*M*N*K/s), as the benchmarks report.
//
// arm64-sdot, inner loop per group of 4 k for 4 rows x 16 channels
// (256 MACs): one 64-byte LD1, 4 LD1R, 16 SDOT, loop = 23 instructions,
// 0.09 instructions per MAC. Cortex-A76 and A78 issue 2 SDOT per cycle
// (32 MACs/cycle), so the loop is SDOT-bound at 8 cycles: peak 154 GOP/s at
// 2.4 GHz (Pi 5), 141 GOP/s at 2.2 GHz (Jetson AGX Orin A78AE), 96 GOP/s at
// 1.5 GHz (Orin Nano). Expect 50-70% of that on real layers (epilogue, loads,
// short K): about 80-100 GOP/s on a Pi 5 core, 70-90 on an AGX Orin core.
//
// arm64-smull, per pair of groups for 2 rows x 16 channels (256 MACs): 2 LD1,
// 4 LD1R, 16 SMULL/SMULL2, 16 SMLAL/SMLAL2 (two k groups summed in int16,
// safe because Pack saw no -128 weight: |sum| <= 2*128*127 = 32512), 16
// SADALP, loop = 56 instructions, 0.22 per MAC. On Cortex-A72 the multiplies
// issue on F0 at 1/cycle (32 cycles) and SADALP, Q form, on F1 at 1 per 2
// cycles (32 cycles): 8 MACs/cycle, peak 24 GOP/s at 1.5 GHz (Pi 4 before
// the 1.8 GHz firmware) and 28.8 GOP/s at 1.8 GHz; expect 15-20 GOP/s per
// core. With a -128 weight in the layer the plain SMULL+SADALP loop runs
// (0.29 instructions per MAC, SADALP-bound at 4 MACs/cycle: 12 / 14.4 GOP/s
// peak). The pure-Go reference does about 0.5-1 GOP/s there.
//
// amd64-avx512vnni: per group for 8 rows x 32 channels (two panels, 1024
// MACs): 2 ZMM loads, 8 VPBROADCASTD, 8 VPXORD, 16 VPDPBUSD = 0.033
// instructions per MAC (one panel when N is 16: 0.05).
// amd64-avx2: per group for 2 rows x 16 channels (128 MACs) 4+2 VPMOVSXBW,
// 2 VPBROADCASTD, 8 VPMADDWD, 8 VPADDD = 0.19 per MAC.
//
// # Measured on the development machine (x86-64)
//
// go test -bench . ./neon/ on a shared 2-vCPU Xeon (Sapphire Rapids class,
// AVX-512 VNNI and VBMI), one thread, medians of 3; cpu-GOP/s divides by
// the thread's CPU time because the machine was loaded (wall-clock GOP/s
// were up to 2x lower). Requantization shifts are real layers' (5 to 14).
// Gemm includes the fused epilogue; M x K x N:
//
//	shape (M x K x N)   avx512vnni  (before the fast/fused epilogue)  avx2   generic  (cpu-GOP/s)
//	64 x 576 x 64          406        271                             58     1.7
//	1024 x 288 x 32        411        269                             64     2.1
//	4096 x 27 x 16         115         69                             30     1.4
//	256 x 1152 x 128       422        270                             60     1.7
//	4800 x 32 x 64         224         98                             33     1.6
//	1200 x 64 x 128        302        129                             39     1.3
//	300 x 128 x 256        293        162                             39     1.7
//
// (avx2 and generic columns as measured before; those kernels did not
// change.) Depthwise 3x3 prepared on padded biased rows (the executor's
// way), 120x160x32 s1, 60x80x64 s2, 30x40x128 s1: 43, 66, 43 cpu-GOP/s with
// AVX-512 (wide kernel), 15-20 with AVX2, about 1 generic. ConvDirect on
// UltraFace's first layer (3x3 s2 over RGB, 16 channels): 119 cpu-GOP/s
// biased, 77 unbiased, 8-15 AVX2/AVX-VNNI, 1 generic. AddInt8: 2.6 G
// elements/s (AVX-512, the larger-scale input rescaled by a shift) against
// 0.6 (AVX2) and 0.09 (generic).
// Allocations: zero everywhere (tested).
//
// End to end, vigil bench (interleaved runs, so every engine starts from
// cold caches), UltraFace RFB-320 at 320x240, one thread: int8 1.5-2.0 ms
// against ONNX Runtime 1.30 float32's 2.8-3.9 ms in the same runs, 1.85-2.0x
// (before this work, measured alongside: 3.0-4.3 ms, 0.86-0.93x); OpenCV DNN
// 4.6 is 5.3-6.8x slower than vigil int8 (2.6-2.8x before). tiny-face
// 4.3-5.5 ms (9.3-11.7 before), face-recognition within noise of before in
// vigil bench and 8% faster in CPU time. The rest of UltraFace's time is requantization arithmetic (two
// 32x32->64 multiplies and a variable shift per 16 outputs) rather than
// multiply-adds: its layers have few channels.
//
// amd64-avxvnni (also selectable here, with GODEBUG=cpu.avx512f=off): 158,
// 46 and 52 cpu-GOP/s on 64x576x64, 4096x27x16 and 4800x32x64 (measured
// before; unchanged).
//
// Short K (27, 32) is bound by per-row epilogue work rather than by
// VPDPBUSD. The 8x target over the pure-Go reference holds for every
// shape and every x86 path.
package neon
