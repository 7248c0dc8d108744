//go:build !purego

#include "textflag.h"

// The kernels compute rows x 16 int32 dot products between rows of A
// (stride lda, groups*4 bytes each, plus one optional tail group taken
// from tail[r], which Go assembles so no byte past a row is read) and one
// packed panel: for each group of 4 k, 16 channels x 4 bytes.

// func tileVNNI512(acc *[tileM * panelN]int32, a *int8, lda, rows, groups int, w *int8, init *int32, tail *[tileM]uint32)
//
// VPDPBUSD multiplies unsigned by signed bytes, so activations are biased
// to unsigned by XOR 0x80 (a+128) and init holds -128*sum(w[j]) to undo it.
// One ZMM accumulator is one row x 16 channels; 8 rows per block (8
// independent VPDPBUSD chains hide its latency), then 4, then 1.
TEXT ·tileVNNI512(SB), NOSPLIT, $0-64
	MOVQ acc+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ lda+16(FP), BX
	MOVQ rows+24(FP), CX
	MOVQ groups+32(FP), DX
	MOVQ w+40(FP), R8
	MOVQ init+48(FP), R9
	MOVQ tail+56(FP), R10
	MOVL $0x80808080, AX
	VPBROADCASTD AX, Z31
	VMOVDQU32 (R9), Z30

vnni_block8:
	CMPQ CX, $8
	JLT  vnni_block4
	VMOVDQA32 Z30, Z0
	VMOVDQA32 Z30, Z1
	VMOVDQA32 Z30, Z2
	VMOVDQA32 Z30, Z3
	VMOVDQA32 Z30, Z4
	VMOVDQA32 Z30, Z5
	VMOVDQA32 Z30, Z6
	VMOVDQA32 Z30, Z7
	MOVQ SI, R9
	LEAQ (SI)(BX*1), R11
	LEAQ (SI)(BX*4), R13
	LEAQ (R13)(BX*1), DX
	MOVQ R8, R12
	MOVQ groups+32(FP), AX
	TESTQ AX, AX
	JZ   vnni_tail8

vnni_loop8:
	VMOVDQU32    (R12), Z16
	VPBROADCASTD (R9), Z8
	VPBROADCASTD (R11), Z9
	VPBROADCASTD (R9)(BX*2), Z10
	VPBROADCASTD (R11)(BX*2), Z11
	VPBROADCASTD (R13), Z12
	VPBROADCASTD (DX), Z13
	VPBROADCASTD (R13)(BX*2), Z14
	VPBROADCASTD (DX)(BX*2), Z15
	VPXORD       Z31, Z8, Z8
	VPXORD       Z31, Z9, Z9
	VPXORD       Z31, Z10, Z10
	VPXORD       Z31, Z11, Z11
	VPXORD       Z31, Z12, Z12
	VPXORD       Z31, Z13, Z13
	VPXORD       Z31, Z14, Z14
	VPXORD       Z31, Z15, Z15
	VPDPBUSD     Z16, Z8, Z0
	VPDPBUSD     Z16, Z9, Z1
	VPDPBUSD     Z16, Z10, Z2
	VPDPBUSD     Z16, Z11, Z3
	VPDPBUSD     Z16, Z12, Z4
	VPDPBUSD     Z16, Z13, Z5
	VPDPBUSD     Z16, Z14, Z6
	VPDPBUSD     Z16, Z15, Z7
	ADDQ $4, R9
	ADDQ $4, R11
	ADDQ $4, R13
	ADDQ $4, DX
	ADDQ $64, R12
	DECQ AX
	JNZ  vnni_loop8

vnni_tail8:
	TESTQ R10, R10
	JZ    vnni_store8
	VMOVDQU32    (R12), Z16
	VPBROADCASTD 0(R10), Z8
	VPBROADCASTD 4(R10), Z9
	VPBROADCASTD 8(R10), Z10
	VPBROADCASTD 12(R10), Z11
	VPBROADCASTD 16(R10), Z12
	VPBROADCASTD 20(R10), Z13
	VPBROADCASTD 24(R10), Z14
	VPBROADCASTD 28(R10), Z15
	VPXORD       Z31, Z8, Z8
	VPXORD       Z31, Z9, Z9
	VPXORD       Z31, Z10, Z10
	VPXORD       Z31, Z11, Z11
	VPXORD       Z31, Z12, Z12
	VPXORD       Z31, Z13, Z13
	VPXORD       Z31, Z14, Z14
	VPXORD       Z31, Z15, Z15
	VPDPBUSD     Z16, Z8, Z0
	VPDPBUSD     Z16, Z9, Z1
	VPDPBUSD     Z16, Z10, Z2
	VPDPBUSD     Z16, Z11, Z3
	VPDPBUSD     Z16, Z12, Z4
	VPDPBUSD     Z16, Z13, Z5
	VPDPBUSD     Z16, Z14, Z6
	VPDPBUSD     Z16, Z15, Z7
	ADDQ $32, R10

vnni_store8:
	VMOVDQU32 Z0, 0(DI)
	VMOVDQU32 Z1, 64(DI)
	VMOVDQU32 Z2, 128(DI)
	VMOVDQU32 Z3, 192(DI)
	VMOVDQU32 Z4, 256(DI)
	VMOVDQU32 Z5, 320(DI)
	VMOVDQU32 Z6, 384(DI)
	VMOVDQU32 Z7, 448(DI)
	ADDQ $512, DI
	LEAQ (SI)(BX*8), SI
	SUBQ $8, CX
	JMP  vnni_block8

vnni_block4:
	CMPQ CX, $4
	JLT  vnni_row1
	VMOVDQA32 Z30, Z0
	VMOVDQA32 Z30, Z1
	VMOVDQA32 Z30, Z2
	VMOVDQA32 Z30, Z3
	MOVQ SI, R9
	LEAQ (SI)(BX*1), R11
	MOVQ R8, R12
	MOVQ groups+32(FP), AX
	TESTQ AX, AX
	JZ   vnni_tail4

vnni_loop4:
	VMOVDQU32    (R12), Z4
	VPBROADCASTD (R9), Z5
	VPBROADCASTD (R11), Z6
	VPBROADCASTD (R9)(BX*2), Z7
	VPBROADCASTD (R11)(BX*2), Z8
	VPXORD       Z31, Z5, Z5
	VPXORD       Z31, Z6, Z6
	VPXORD       Z31, Z7, Z7
	VPXORD       Z31, Z8, Z8
	VPDPBUSD     Z4, Z5, Z0
	VPDPBUSD     Z4, Z6, Z1
	VPDPBUSD     Z4, Z7, Z2
	VPDPBUSD     Z4, Z8, Z3
	ADDQ $4, R9
	ADDQ $4, R11
	ADDQ $64, R12
	DECQ AX
	JNZ  vnni_loop4

vnni_tail4:
	TESTQ R10, R10
	JZ    vnni_store4
	VMOVDQU32    (R12), Z4
	VPBROADCASTD 0(R10), Z5
	VPBROADCASTD 4(R10), Z6
	VPBROADCASTD 8(R10), Z7
	VPBROADCASTD 12(R10), Z8
	VPXORD       Z31, Z5, Z5
	VPXORD       Z31, Z6, Z6
	VPXORD       Z31, Z7, Z7
	VPXORD       Z31, Z8, Z8
	VPDPBUSD     Z4, Z5, Z0
	VPDPBUSD     Z4, Z6, Z1
	VPDPBUSD     Z4, Z7, Z2
	VPDPBUSD     Z4, Z8, Z3
	ADDQ $16, R10

vnni_store4:
	VMOVDQU32 Z0, 0(DI)
	VMOVDQU32 Z1, 64(DI)
	VMOVDQU32 Z2, 128(DI)
	VMOVDQU32 Z3, 192(DI)
	ADDQ $256, DI
	LEAQ (SI)(BX*4), SI
	SUBQ $4, CX
	JMP  vnni_block4

vnni_row1:
	TESTQ CX, CX
	JZ    vnni_done
	VMOVDQA32 Z30, Z0
	MOVQ SI, R9
	MOVQ R8, R12
	MOVQ groups+32(FP), AX
	TESTQ AX, AX
	JZ   vnni_tail1

vnni_loop1:
	VPBROADCASTD (R9), Z5
	VPXORD       Z31, Z5, Z5
	VPDPBUSD     (R12), Z5, Z0
	ADDQ $4, R9
	ADDQ $64, R12
	DECQ AX
	JNZ  vnni_loop1

vnni_tail1:
	TESTQ R10, R10
	JZ    vnni_store1
	VPBROADCASTD (R10), Z5
	VPXORD       Z31, Z5, Z5
	VPDPBUSD     (R12), Z5, Z0
	ADDQ $4, R10

vnni_store1:
	VMOVDQU32 Z0, (DI)
	ADDQ $64, DI
	ADDQ BX, SI
	DECQ CX
	JMP  vnni_row1

vnni_done:
	VZEROUPPER
	RET

// func tileAVX2(acc *[tileM * panelN]int32, a *int8, lda, rows, groups int, w *int8, tail *[tileM]uint32)
//
// AVX2 has no signed x signed byte dot product that cannot saturate
// (VPMADDUBSW overflows int16 at 255*127*2), so bytes are sign-extended to
// int16 (VPMOVSXBW) and multiplied with VPMADDWD, which sums pairs of k into
// int32 lanes exactly. Accumulator lanes hold (channel, k pair) partial
// sums; VPHADDD + VPERMQ fold the pairs at the end. 2 rows per block.
TEXT ·tileAVX2(SB), NOSPLIT, $0-56
	MOVQ acc+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ lda+16(FP), BX
	MOVQ rows+24(FP), CX
	MOVQ groups+32(FP), DX
	MOVQ w+40(FP), R8
	MOVQ tail+48(FP), R10

avx2_block2:
	CMPQ CX, $2
	JLT  avx2_row1
	VPXOR Y0, Y0, Y0
	VPXOR Y1, Y1, Y1
	VPXOR Y2, Y2, Y2
	VPXOR Y3, Y3, Y3
	VPXOR Y4, Y4, Y4
	VPXOR Y5, Y5, Y5
	VPXOR Y6, Y6, Y6
	VPXOR Y7, Y7, Y7
	MOVQ SI, R9
	LEAQ (SI)(BX*1), R11
	MOVQ R8, R12
	MOVQ DX, AX
	TESTQ AX, AX
	JZ   avx2_tail2

avx2_loop2:
	VPMOVSXBW    0(R12), Y8
	VPMOVSXBW    16(R12), Y9
	VPMOVSXBW    32(R12), Y10
	VPMOVSXBW    48(R12), Y11
	VPBROADCASTD (R9), X12
	VPBROADCASTD (R11), X14
	VPMOVSXBW    X12, Y12
	VPMOVSXBW    X14, Y14
	VPMADDWD     Y8, Y12, Y13
	VPMADDWD     Y8, Y14, Y15
	VPADDD       Y13, Y0, Y0
	VPADDD       Y15, Y4, Y4
	VPMADDWD     Y9, Y12, Y13
	VPMADDWD     Y9, Y14, Y15
	VPADDD       Y13, Y1, Y1
	VPADDD       Y15, Y5, Y5
	VPMADDWD     Y10, Y12, Y13
	VPMADDWD     Y10, Y14, Y15
	VPADDD       Y13, Y2, Y2
	VPADDD       Y15, Y6, Y6
	VPMADDWD     Y11, Y12, Y13
	VPMADDWD     Y11, Y14, Y15
	VPADDD       Y13, Y3, Y3
	VPADDD       Y15, Y7, Y7
	ADDQ $4, R9
	ADDQ $4, R11
	ADDQ $64, R12
	DECQ AX
	JNZ  avx2_loop2

avx2_tail2:
	TESTQ R10, R10
	JZ    avx2_store2
	VPMOVSXBW    0(R12), Y8
	VPMOVSXBW    16(R12), Y9
	VPMOVSXBW    32(R12), Y10
	VPMOVSXBW    48(R12), Y11
	VPBROADCASTD 0(R10), X12
	VPBROADCASTD 4(R10), X14
	VPMOVSXBW    X12, Y12
	VPMOVSXBW    X14, Y14
	VPMADDWD     Y8, Y12, Y13
	VPMADDWD     Y8, Y14, Y15
	VPADDD       Y13, Y0, Y0
	VPADDD       Y15, Y4, Y4
	VPMADDWD     Y9, Y12, Y13
	VPMADDWD     Y9, Y14, Y15
	VPADDD       Y13, Y1, Y1
	VPADDD       Y15, Y5, Y5
	VPMADDWD     Y10, Y12, Y13
	VPMADDWD     Y10, Y14, Y15
	VPADDD       Y13, Y2, Y2
	VPADDD       Y15, Y6, Y6
	VPMADDWD     Y11, Y12, Y13
	VPMADDWD     Y11, Y14, Y15
	VPADDD       Y13, Y3, Y3
	VPADDD       Y15, Y7, Y7
	ADDQ $8, R10

avx2_store2:
	// [c0 c0 c1 c1 | c2 c2 c3 c3] + [c4 .. c7] -> [c0 c1 c4 c5 | c2 c3 c6 c7] -> [c0 .. c7]
	VPHADDD Y1, Y0, Y0
	VPHADDD Y3, Y2, Y2
	VPHADDD Y5, Y4, Y4
	VPHADDD Y7, Y6, Y6
	VPERMQ  $0xD8, Y0, Y0
	VPERMQ  $0xD8, Y2, Y2
	VPERMQ  $0xD8, Y4, Y4
	VPERMQ  $0xD8, Y6, Y6
	VMOVDQU Y0, 0(DI)
	VMOVDQU Y2, 32(DI)
	VMOVDQU Y4, 64(DI)
	VMOVDQU Y6, 96(DI)
	ADDQ $128, DI
	LEAQ (SI)(BX*2), SI
	SUBQ $2, CX
	JMP  avx2_block2

avx2_row1:
	TESTQ CX, CX
	JZ    avx2_done
	VPXOR Y0, Y0, Y0
	VPXOR Y1, Y1, Y1
	VPXOR Y2, Y2, Y2
	VPXOR Y3, Y3, Y3
	MOVQ SI, R9
	MOVQ R8, R12
	MOVQ DX, AX
	TESTQ AX, AX
	JZ   avx2_tail1

avx2_loop1:
	VPBROADCASTD (R9), X12
	VPMOVSXBW    X12, Y12
	VPMOVSXBW    0(R12), Y8
	VPMOVSXBW    16(R12), Y9
	VPMOVSXBW    32(R12), Y10
	VPMOVSXBW    48(R12), Y11
	VPMADDWD     Y8, Y12, Y8
	VPMADDWD     Y9, Y12, Y9
	VPMADDWD     Y10, Y12, Y10
	VPMADDWD     Y11, Y12, Y11
	VPADDD       Y8, Y0, Y0
	VPADDD       Y9, Y1, Y1
	VPADDD       Y10, Y2, Y2
	VPADDD       Y11, Y3, Y3
	ADDQ $4, R9
	ADDQ $64, R12
	DECQ AX
	JNZ  avx2_loop1

avx2_tail1:
	TESTQ R10, R10
	JZ    avx2_store1
	VPBROADCASTD (R10), X12
	VPMOVSXBW    X12, Y12
	VPMOVSXBW    0(R12), Y8
	VPMOVSXBW    16(R12), Y9
	VPMOVSXBW    32(R12), Y10
	VPMOVSXBW    48(R12), Y11
	VPMADDWD     Y8, Y12, Y8
	VPMADDWD     Y9, Y12, Y9
	VPMADDWD     Y10, Y12, Y10
	VPMADDWD     Y11, Y12, Y11
	VPADDD       Y8, Y0, Y0
	VPADDD       Y9, Y1, Y1
	VPADDD       Y10, Y2, Y2
	VPADDD       Y11, Y3, Y3
	ADDQ $4, R10

avx2_store1:
	VPHADDD Y1, Y0, Y0
	VPHADDD Y3, Y2, Y2
	VPERMQ  $0xD8, Y0, Y0
	VPERMQ  $0xD8, Y2, Y2
	VMOVDQU Y0, 0(DI)
	VMOVDQU Y2, 32(DI)
	ADDQ $64, DI
	ADDQ BX, SI
	DECQ CX
	JMP  avx2_row1

avx2_done:
	VZEROUPPER
	RET

// EPI8 runs the Requant epilogue on 8 accumulators at byte offset off of
// the acc row (SI) and the epi parameters (R8), leaving 8 int32 in [Min,
// Max] in X. Constants: Y15 = 2^30 per qword, Y14 = 0x7fffffff,
// Y13 = lo, Y12 = hi, Y11 = zp. Clobbers Y2-Y5.
#define EPI8(off, X) \
	VMOVDQU   off(SI), X \
	VPADDD    off(R8), X, X \ // + bias (wrapping, as in Go)
	VMOVDQU   off+128(R8), Y2 \
	VPSLLVD   Y2, X, Y3 \     // saturating x << left:
	VPSRAVD   Y2, Y3, Y4 \    // it did not overflow iff (x<<left)>>left == x,
	VPCMPEQD  Y4, X, Y4 \
	VPSRAD    $31, X, Y5 \    // else saturate to 0x7fffffff or 0x80000000
	VPXOR     Y14, Y5, Y5 \
	VPBLENDVB Y4, Y3, Y5, X \
	VMOVDQU   off+64(R8), Y2 \
	VPMULDQ   Y2, X, Y3 \     // even lanes: 64-bit x*mult
	VPSHUFD   $0xF5, X, Y4 \
	VPSHUFD   $0xF5, Y2, Y5 \
	VPMULDQ   Y5, Y4, Y4 \    // odd lanes
	VPADDQ    Y15, Y3, Y3 \   // + 2^30
	VPADDQ    Y15, Y4, Y4 \
	VPSRLQ    $31, Y3, Y3 \   // low dword = bits 31..62 = (p+2^30)>>31
	VPSLLQ    $1, Y4, Y4 \    // high dword = the same bits, for the odd lanes
	VPBLENDD  $0xAA, Y4, Y3, X \
	VPSRAVD   off+256(R8), X, Y3 \ // rounding right shift without overflow:
	VPAND     off+320(R8), Y3, Y3 \ // (x >> r) + ((x >> (r-1)) & 1)
	VPSRAVD   off+192(R8), X, X \
	VPADDD    Y3, X, X \
	VPMAXSD   Y13, X, X \
	VPMINSD   Y12, X, X \
	VPADDD    Y11, X, X

// EPI8R is EPI8 on 8 accumulators already in X (channels at byte offset
// off of the epi parameters).
#define EPI8R(off, X) \
	VPADDD    off(R8), X, X \ // + bias (wrapping, as in Go)
	VMOVDQU   off+128(R8), Y2 \
	VPSLLVD   Y2, X, Y3 \     // saturating x << left:
	VPSRAVD   Y2, Y3, Y4 \    // it did not overflow iff (x<<left)>>left == x,
	VPCMPEQD  Y4, X, Y4 \
	VPSRAD    $31, X, Y5 \    // else saturate to 0x7fffffff or 0x80000000
	VPXOR     Y14, Y5, Y5 \
	VPBLENDVB Y4, Y3, Y5, X \
	VMOVDQU   off+64(R8), Y2 \
	VPMULDQ   Y2, X, Y3 \     // even lanes: 64-bit x*mult
	VPSHUFD   $0xF5, X, Y4 \
	VPSHUFD   $0xF5, Y2, Y5 \
	VPMULDQ   Y5, Y4, Y4 \    // odd lanes
	VPADDQ    Y15, Y3, Y3 \   // + 2^30
	VPADDQ    Y15, Y4, Y4 \
	VPSRLQ    $31, Y3, Y3 \   // low dword = bits 31..62 = (p+2^30)>>31
	VPSLLQ    $1, Y4, Y4 \    // high dword = the same bits, for the odd lanes
	VPBLENDD  $0xAA, Y4, Y3, X \
	VPSRAVD   off+256(R8), X, Y3 \ // rounding right shift without overflow:
	VPAND     off+320(R8), Y3, Y3 \ // (x >> r) + ((x >> (r-1)) & 1)
	VPSRAVD   off+192(R8), X, X \
	VPADDD    Y3, X, X \
	VPMAXSD   Y13, X, X \
	VPMINSD   Y12, X, X \
	VPADDD    Y11, X, X

// EPI8N is EPI8R without the clamp and zero point: exactly Requantize
// (with bias) on 8 lanes.
#define EPI8N(off, X) \
	VPADDD    off(R8), X, X \ // + bias (wrapping, as in Go)
	VMOVDQU   off+128(R8), Y2 \
	VPSLLVD   Y2, X, Y3 \     // saturating x << left:
	VPSRAVD   Y2, Y3, Y4 \    // it did not overflow iff (x<<left)>>left == x,
	VPCMPEQD  Y4, X, Y4 \
	VPSRAD    $31, X, Y5 \    // else saturate to 0x7fffffff or 0x80000000
	VPXOR     Y14, Y5, Y5 \
	VPBLENDVB Y4, Y3, Y5, X \
	VMOVDQU   off+64(R8), Y2 \
	VPMULDQ   Y2, X, Y3 \     // even lanes: 64-bit x*mult
	VPSHUFD   $0xF5, X, Y4 \
	VPSHUFD   $0xF5, Y2, Y5 \
	VPMULDQ   Y5, Y4, Y4 \    // odd lanes
	VPADDQ    Y15, Y3, Y3 \   // + 2^30
	VPADDQ    Y15, Y4, Y4 \
	VPSRLQ    $31, Y3, Y3 \   // low dword = bits 31..62 = (p+2^30)>>31
	VPSLLQ    $1, Y4, Y4 \    // high dword = the same bits, for the odd lanes
	VPBLENDD  $0xAA, Y4, Y3, X \
	VPSRAVD   off+256(R8), X, Y3 \ // rounding right shift without overflow:
	VPAND     off+320(R8), Y3, Y3 \ // (x >> r) + ((x >> (r-1)) & 1)
	VPSRAVD   off+192(R8), X, X \
	VPADDD    Y3, X, X

// EPI8NL is EPI8N for a left shift of 0 in every lane (multipliers below 1,
// as AddInt8's always are): no saturating pre-shift.
#define EPI8NL(off, X) \
	VPADDD    off(R8), X, X \ // + bias (wrapping, as in Go)
	VMOVDQU   off+64(R8), Y2 \
	VPMULDQ   Y2, X, Y3 \     // even lanes: 64-bit x*mult
	VPSHUFD   $0xF5, X, Y4 \
	VPSHUFD   $0xF5, Y2, Y5 \
	VPMULDQ   Y5, Y4, Y4 \    // odd lanes
	VPADDQ    Y15, Y3, Y3 \   // + 2^30
	VPADDQ    Y15, Y4, Y4 \
	VPSRLQ    $31, Y3, Y3 \   // low dword = bits 31..62 = (p+2^30)>>31
	VPSLLQ    $1, Y4, Y4 \    // high dword = the same bits, for the odd lanes
	VPBLENDD  $0xAA, Y4, Y3, X \
	VPSRAVD   off+256(R8), X, Y3 \ // rounding right shift without overflow:
	VPAND     off+320(R8), Y3, Y3 \ // (x >> r) + ((x >> (r-1)) & 1)
	VPSRAVD   off+192(R8), X, X \
	VPADDD    Y3, X, X

// func epilogueAVX2(dst *int8, ldd int, acc *[tileM * panelN]int32, rows int, e *epi)
TEXT ·epilogueAVX2(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ ldd+8(FP), BX
	MOVQ acc+16(FP), SI
	MOVQ rows+24(FP), CX
	MOVQ e+32(FP), R8
	MOVQ $0x40000000, AX
	MOVQ AX, X15
	VPBROADCASTQ X15, Y15
	VPCMPEQD     Y14, Y14, Y14
	VPSRLD       $1, Y14, Y14
	VPBROADCASTD 384(R8), Y13
	VPBROADCASTD 388(R8), Y12
	VPBROADCASTD 392(R8), Y11

epi_row:
	TESTQ CX, CX
	JZ    epi_done
	EPI8(0, Y0)
	EPI8(32, Y1)
	VPACKSSDW    Y1, Y0, Y0 // [c0-3 c8-11 | c4-7 c12-15] as int16
	VPERMQ       $0xD8, Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VPACKSSWB    X1, X0, X0
	VMOVDQU      X0, (DI)
	ADDQ $64, SI
	ADDQ BX, DI
	DECQ CX
	JMP  epi_row

epi_done:
	VZEROUPPER
	RET

// DWPAIR accumulates two depthwise taps for 8 channels into ACC: the taps'
// bytes are interleaved (VPUNPCKLBW), sign-extended to int16 pairs and
// multiplied by the matching (w_a, w_b) int16 pairs with VPMADDWD: exact
// int32 sums, no int16 accumulation.
#define DWPAIR(ta, tb, woff, ACC) \
	VMOVQ      ta, X6 \
	VMOVQ      tb, X7 \
	VPUNPCKLBW X7, X6, X6 \
	VPMOVSXBW  X6, Y6 \
	VPMADDWD   woff(R9), Y6, Y6 \
	VPADDD     Y6, ACC, ACC

// DWHALF computes 8 channels (byte offset off in the block) of one output
// pixel: taps t0..t8 are (R10), (R10)(CX*1), (R10)(CX*2), (R11)..., (R13)...
#define DWHALF(off, woff, ACC) \
	VPXOR      ACC, ACC, ACC \
	DWPAIR(off(R10), off(R10)(CX*1), woff, ACC) \
	DWPAIR(off(R10)(CX*2), off(R11), woff+64, ACC) \
	DWPAIR(off(R11)(CX*1), off(R11)(CX*2), woff+128, ACC) \
	DWPAIR(off(R13), off(R13)(CX*1), woff+192, ACC) \
	VMOVQ      off(R13)(CX*2), X6 \
	VPUNPCKLBW X10, X6, X6 \
	VPMOVSXBW  X6, Y6 \
	VPMADDWD   woff+256(R9), Y6, Y6 \
	VPADDD     Y6, ACC, ACC

// func depthwiseAVX2(dst, src *int8, n, c, rowStride, pixStep int, wp *[160]int16, e *epi)
//
// n output pixels (dst, c bytes apart) of 16 channels whose 3x3 windows are
// all inside the image: src points at the top-left tap of the first one,
// rows rowStride apart, taps c apart, pixels pixStep apart. wp holds the
// weights as int16 tap pairs (t0,t1) (t2,t3) (t4,t5) (t6,t7) (t8,0), each
// [2 halves][8 channels][2]; e the 16 channels' epilogue.
TEXT ·depthwiseAVX2(SB), NOSPLIT, $0-64
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), DX
	MOVQ c+24(FP), CX
	MOVQ rowStride+32(FP), BX
	MOVQ pixStep+40(FP), R12
	MOVQ wp+48(FP), R9
	MOVQ e+56(FP), R8
	MOVQ $0x40000000, AX
	MOVQ AX, X15
	VPBROADCASTQ X15, Y15
	VPCMPEQD     Y14, Y14, Y14
	VPSRLD       $1, Y14, Y14
	VPBROADCASTD 384(R8), Y13
	VPBROADCASTD 388(R8), Y12
	VPBROADCASTD 392(R8), Y11
	VPXOR        Y10, Y10, Y10

dw_pixel:
	TESTQ DX, DX
	JZ    dw_done
	MOVQ  SI, R10
	LEAQ  (SI)(BX*1), R11
	LEAQ  (R11)(BX*1), R13
	DWHALF(0, 0, Y0)
	DWHALF(8, 32, Y1)
	EPI8R(0, Y0)
	EPI8R(32, Y1)
	VPACKSSDW    Y1, Y0, Y0
	VPERMQ       $0xD8, Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VPACKSSWB    X1, X0, X0
	VMOVDQU      X0, (DI)
	ADDQ CX, DI
	ADDQ R12, SI
	DECQ DX
	JMP  dw_pixel

dw_done:
	VZEROUPPER
	RET

// ADDHALF loads 8 int8 at off of (SI) and (DX), computes the rescaled sum
// of AddInt8 up to the output Requantize (exact int32) and leaves it in X.
// R9, R10, R11 point at the epi of input A, input B and the output.
#define ADDHALF(off, X) \
	VPMOVSXBD off(SI), X \
	VPSUBD    Y10, X, X \
	VPSLLD    $20, X, X \
	MOVQ      R9, R8 \
	EPI8N(0, X) \
	VPMOVSXBD off(DX), Y6 \
	VPSUBD    Y9, Y6, Y6 \
	VPSLLD    $20, Y6, Y6 \
	MOVQ      R10, R8 \
	EPI8N(0, Y6) \
	VPADDD    Y6, X, X \
	MOVQ      R11, R8 \
	EPI8R(0, X)

// func addAVX2(dst, a, b *int8, n int, zp *[2]int32, ea, eb, eo *epi)
//
// n (a multiple of 16) elements of AddInt8; every lane of ea, eb, eo holds
// the same parameters, and eo's clamp and zero point are the output's.
TEXT ·addAVX2(SB), NOSPLIT, $0-64
	MOVQ dst+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ n+24(FP), CX
	MOVQ zp+32(FP), AX
	MOVQ ea+40(FP), R9
	MOVQ eb+48(FP), R10
	MOVQ eo+56(FP), R11
	VPBROADCASTD 0(AX), Y10
	VPBROADCASTD 4(AX), Y9
	MOVQ $0x40000000, AX
	MOVQ AX, X15
	VPBROADCASTQ X15, Y15
	VPCMPEQD     Y14, Y14, Y14
	VPSRLD       $1, Y14, Y14
	VPBROADCASTD 384(R11), Y13
	VPBROADCASTD 388(R11), Y12
	VPBROADCASTD 392(R11), Y11

add_loop:
	TESTQ CX, CX
	JZ    add_done
	ADDHALF(0, Y0)
	ADDHALF(8, Y1)
	VPACKSSDW    Y1, Y0, Y0
	VPERMQ       $0xD8, Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VPACKSSWB    X1, X0, X0
	VMOVDQU      X0, (DI)
	ADDQ $16, SI
	ADDQ $16, DX
	ADDQ $16, DI
	SUBQ $16, CX
	JMP  add_loop

add_done:
	VZEROUPPER
	RET

// ADDHALFNL is ADDHALF without the inputs' saturating pre-shift; loads 8 int8 at off of (SI) and (DX), computes the rescaled sum
// of AddInt8 up to the output Requantize (exact int32) and leaves it in X.
// R9, R10, R11 point at the epi of input A, input B and the output.
#define ADDHALFNL(off, X) \
	VPMOVSXBD off(SI), X \
	VPSUBD    Y10, X, X \
	VPSLLD    $20, X, X \
	MOVQ      R9, R8 \
	EPI8NL(0, X) \
	VPMOVSXBD off(DX), Y6 \
	VPSUBD    Y9, Y6, Y6 \
	VPSLLD    $20, Y6, Y6 \
	MOVQ      R10, R8 \
	EPI8NL(0, Y6) \
	VPADDD    Y6, X, X \
	MOVQ      R11, R8 \
	EPI8R(0, X)

// func addAVX2NoLeft(dst, a, b *int8, n int, zp *[2]int32, ea, eb, eo *epi)
//
// addAVX2 for inputs whose shifts are >= 0 (no saturating pre-shift).
//
// n (a multiple of 16) elements of AddInt8; every lane of ea, eb, eo holds
// the same parameters, and eo's clamp and zero point are the output's.
TEXT ·addAVX2NoLeft(SB), NOSPLIT, $0-64
	MOVQ dst+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ n+24(FP), CX
	MOVQ zp+32(FP), AX
	MOVQ ea+40(FP), R9
	MOVQ eb+48(FP), R10
	MOVQ eo+56(FP), R11
	VPBROADCASTD 0(AX), Y10
	VPBROADCASTD 4(AX), Y9
	MOVQ $0x40000000, AX
	MOVQ AX, X15
	VPBROADCASTQ X15, Y15
	VPCMPEQD     Y14, Y14, Y14
	VPSRLD       $1, Y14, Y14
	VPBROADCASTD 384(R11), Y13
	VPBROADCASTD 388(R11), Y12
	VPBROADCASTD 392(R11), Y11

addnl_loop:
	TESTQ CX, CX
	JZ    addnl_done
	ADDHALFNL(0, Y0)
	ADDHALFNL(8, Y1)
	VPACKSSDW    Y1, Y0, Y0
	VPERMQ       $0xD8, Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VPACKSSWB    X1, X0, X0
	VMOVDQU      X0, (DI)
	ADDQ $16, SI
	ADDQ $16, DX
	ADDQ $16, DI
	SUBQ $16, CX
	JMP  addnl_loop

addnl_done:
	VZEROUPPER
	RET

// func requantizeAVX2(dst, src *int8, n int, e *epi)
//
// n (a multiple of 16) elements of RequantizeInt8: e's bias lanes hold
// -zpIn, the rest the (uniform) multiplier, shift, clamp and output zero point.
TEXT ·requantizeAVX2(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	MOVQ e+24(FP), R8
	MOVQ $0x40000000, AX
	MOVQ AX, X15
	VPBROADCASTQ X15, Y15
	VPCMPEQD     Y14, Y14, Y14
	VPSRLD       $1, Y14, Y14
	VPBROADCASTD 384(R8), Y13
	VPBROADCASTD 388(R8), Y12
	VPBROADCASTD 392(R8), Y11

rq_loop:
	TESTQ CX, CX
	JZ    rq_done
	VPMOVSXBD 0(SI), Y0
	VPMOVSXBD 8(SI), Y1
	EPI8R(0, Y0)
	EPI8R(0, Y1)
	VPACKSSDW    Y1, Y0, Y0
	VPERMQ       $0xD8, Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VPACKSSWB    X1, X0, X0
	VMOVDQU      X0, (DI)
	ADDQ $16, SI
	ADDQ $16, DI
	SUBQ $16, CX
	JMP  rq_loop

rq_done:
	VZEROUPPER
	RET

// func epilogueAVX512(dst *int8, ldd int, acc *[tileM * panelN]int32, rows int, e *epi)
//
// epilogueAVX2's steps on one ZMM (a whole row of 16 channels), with mask
// registers for the blends and VPMOVSDB to narrow (values are already in
// [Min, Max], so its saturation never acts). Parameters live in Z19-Z31.
TEXT ·epilogueAVX512(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ ldd+8(FP), BX
	MOVQ acc+16(FP), SI
	MOVQ rows+24(FP), CX
	MOVQ e+32(FP), R8
	VMOVDQU32    0(R8), Z20   // bias
	VMOVDQU32    64(R8), Z21  // mult
	VMOVDQU32    128(R8), Z22 // left
	VMOVDQU32    192(R8), Z23 // right
	VMOVDQU32    256(R8), Z24 // right-1 or 32
	VMOVDQU32    320(R8), Z25 // rounding-bit mask
	VPBROADCASTD 384(R8), Z26 // lo
	VPBROADCASTD 388(R8), Z27 // hi
	VPBROADCASTD 392(R8), Z28 // zp
	VPSHUFD      $0xF5, Z21, Z19 // mult of the odd lanes, in even position
	MOVQ         $0x40000000, AX
	VPBROADCASTQ AX, Z29
	MOVL         $0x7fffffff, AX
	VPBROADCASTD AX, Z30
	MOVL         $0xAAAA, AX
	KMOVW        AX, K2

epi512_row:
	TESTQ CX, CX
	JZ    epi512_done
	VMOVDQU32 (SI), Z0
	VPADDD    Z20, Z0, Z0
	VPSLLVD   Z22, Z0, Z3     // saturating x << left
	VPSRAVD   Z22, Z3, Z4
	VPCMPEQD  Z4, Z0, K1
	VPSRAD    $31, Z0, Z5
	VPXORD    Z30, Z5, Z5
	VPBLENDMD Z3, Z5, K1, Z0
	VPMULDQ   Z21, Z0, Z3     // even lanes x*mult
	VPSHUFD   $0xF5, Z0, Z4
	VPMULDQ   Z19, Z4, Z4     // odd lanes
	VPADDQ    Z29, Z3, Z3
	VPADDQ    Z29, Z4, Z4
	VPSRLQ    $31, Z3, Z3
	VPSLLQ    $1, Z4, Z4
	VPBLENDMD Z4, Z3, K2, Z0
	VPSRAVD   Z24, Z0, Z3     // rounding right shift
	VPANDD    Z25, Z3, Z3
	VPSRAVD   Z23, Z0, Z0
	VPADDD    Z3, Z0, Z0
	VPMAXSD   Z26, Z0, Z0
	VPMINSD   Z27, Z0, Z0
	VPADDD    Z28, Z0, Z0
	VPMOVSDB  Z0, (DI)
	ADDQ $64, SI
	ADDQ BX, DI
	DECQ CX
	JMP  epi512_row

epi512_done:
	VZEROUPPER
	RET

// func epilogueAVX512NoLeft(dst *int8, ldd int, acc *[tileM * panelN]int32, rows int, e *epi)
//
// epilogueAVX512 for panels whose shifts are all >= 0 (multipliers below 1,
// the usual case): no saturating pre-shift.
//
// epilogueAVX2's steps on one ZMM (a whole row of 16 channels), with mask
// registers for the blends and VPMOVSDB to narrow (values are already in
// [Min, Max], so its saturation never acts). Parameters live in Z19-Z31.
TEXT ·epilogueAVX512NoLeft(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ ldd+8(FP), BX
	MOVQ acc+16(FP), SI
	MOVQ rows+24(FP), CX
	MOVQ e+32(FP), R8
	VMOVDQU32    0(R8), Z20   // bias
	VMOVDQU32    64(R8), Z21  // mult
	VMOVDQU32    128(R8), Z22 // left
	VMOVDQU32    192(R8), Z23 // right
	VMOVDQU32    256(R8), Z24 // right-1 or 32
	VMOVDQU32    320(R8), Z25 // rounding-bit mask
	VPBROADCASTD 384(R8), Z26 // lo
	VPBROADCASTD 388(R8), Z27 // hi
	VPBROADCASTD 392(R8), Z28 // zp
	VPSHUFD      $0xF5, Z21, Z19 // mult of the odd lanes, in even position
	MOVQ         $0x40000000, AX
	VPBROADCASTQ AX, Z29
	MOVL         $0x7fffffff, AX
	VPBROADCASTD AX, Z30
	MOVL         $0xAAAA, AX
	KMOVW        AX, K2

epi512nl_row:
	TESTQ CX, CX
	JZ    epi512nl_done
	VMOVDQU32 (SI), Z0
	VPADDD    Z20, Z0, Z0
	VPMULDQ   Z21, Z0, Z3     // even lanes x*mult
	VPSHUFD   $0xF5, Z0, Z4
	VPMULDQ   Z19, Z4, Z4     // odd lanes
	VPADDQ    Z29, Z3, Z3
	VPADDQ    Z29, Z4, Z4
	VPSRLQ    $31, Z3, Z3
	VPSLLQ    $1, Z4, Z4
	VPBLENDMD Z4, Z3, K2, Z0
	VPSRAVD   Z24, Z0, Z3     // rounding right shift
	VPANDD    Z25, Z3, Z3
	VPSRAVD   Z23, Z0, Z0
	VPADDD    Z3, Z0, Z0
	VPMAXSD   Z26, Z0, Z0
	VPMINSD   Z27, Z0, Z0
	VPADDD    Z28, Z0, Z0
	VPMOVSDB  Z0, (DI)
	ADDQ $64, SI
	ADDQ BX, DI
	DECQ CX
	JMP  epi512nl_row

epi512nl_done:
	VZEROUPPER
	RET

// func tileVNNI512x2(accA, accB *[tileM * panelN]int32, a *int8, lda, rows, groups int, w *int8, pstride int, init *int32, tail *[tileM]uint32)
//
// tileVNNI512 on two adjacent panels at once (w and w+pstride, init and
// init+64 bytes): each broadcast and XOR of an activation group feeds two
// VPDPBUSD. 8 rows per block (16 accumulators), then single rows.
TEXT ·tileVNNI512x2(SB), NOSPLIT, $0-80
	MOVQ accA+0(FP), DI
	MOVQ accB+8(FP), R15
	MOVQ a+16(FP), SI
	MOVQ lda+24(FP), BX
	MOVQ rows+32(FP), CX
	MOVQ w+48(FP), R8
	MOVQ pstride+56(FP), R14
	MOVQ init+64(FP), R9
	MOVQ tail+72(FP), R10
	MOVL $0x80808080, AX
	VPBROADCASTD AX, Z31
	VMOVDQU32 (R9), Z30
	VMOVDQU32 64(R9), Z29
	ADDQ R8, R14 // second panel

v2_block8:
	CMPQ CX, $8
	JLT  v2_row1
	VMOVDQA32 Z30, Z0
	VMOVDQA32 Z29, Z8
	VMOVDQA32 Z30, Z1
	VMOVDQA32 Z29, Z9
	VMOVDQA32 Z30, Z2
	VMOVDQA32 Z29, Z10
	VMOVDQA32 Z30, Z3
	VMOVDQA32 Z29, Z11
	VMOVDQA32 Z30, Z4
	VMOVDQA32 Z29, Z12
	VMOVDQA32 Z30, Z5
	VMOVDQA32 Z29, Z13
	VMOVDQA32 Z30, Z6
	VMOVDQA32 Z29, Z14
	VMOVDQA32 Z30, Z7
	VMOVDQA32 Z29, Z15
	MOVQ SI, R9
	LEAQ (SI)(BX*1), R11
	LEAQ (SI)(BX*4), R13
	LEAQ (R13)(BX*1), DX
	MOVQ R8, R12
	MOVQ R14, R15
	MOVQ groups+40(FP), AX
	TESTQ AX, AX
	JZ   v2_tail8

v2_loop8:
	VMOVDQU32 (R12), Z16
	VMOVDQU32 (R15), Z17
	VPBROADCASTD (R9), Z18
	VPXORD       Z31, Z18, Z18
	VPDPBUSD     Z16, Z18, Z0
	VPDPBUSD     Z17, Z18, Z8
	VPBROADCASTD (R11), Z19
	VPXORD       Z31, Z19, Z19
	VPDPBUSD     Z16, Z19, Z1
	VPDPBUSD     Z17, Z19, Z9
	VPBROADCASTD (R9)(BX*2), Z20
	VPXORD       Z31, Z20, Z20
	VPDPBUSD     Z16, Z20, Z2
	VPDPBUSD     Z17, Z20, Z10
	VPBROADCASTD (R11)(BX*2), Z21
	VPXORD       Z31, Z21, Z21
	VPDPBUSD     Z16, Z21, Z3
	VPDPBUSD     Z17, Z21, Z11
	VPBROADCASTD (R13), Z18
	VPXORD       Z31, Z18, Z18
	VPDPBUSD     Z16, Z18, Z4
	VPDPBUSD     Z17, Z18, Z12
	VPBROADCASTD (DX), Z19
	VPXORD       Z31, Z19, Z19
	VPDPBUSD     Z16, Z19, Z5
	VPDPBUSD     Z17, Z19, Z13
	VPBROADCASTD (R13)(BX*2), Z20
	VPXORD       Z31, Z20, Z20
	VPDPBUSD     Z16, Z20, Z6
	VPDPBUSD     Z17, Z20, Z14
	VPBROADCASTD (DX)(BX*2), Z21
	VPXORD       Z31, Z21, Z21
	VPDPBUSD     Z16, Z21, Z7
	VPDPBUSD     Z17, Z21, Z15
	ADDQ $4, R9
	ADDQ $4, R11
	ADDQ $4, R13
	ADDQ $4, DX
	ADDQ $64, R12
	ADDQ $64, R15
	DECQ AX
	JNZ  v2_loop8

v2_tail8:
	TESTQ R10, R10
	JZ    v2_store8
	VMOVDQU32 (R12), Z16
	VMOVDQU32 (R15), Z17
	VPBROADCASTD 0(R10), Z18
	VPXORD       Z31, Z18, Z18
	VPDPBUSD     Z16, Z18, Z0
	VPDPBUSD     Z17, Z18, Z8
	VPBROADCASTD 4(R10), Z19
	VPXORD       Z31, Z19, Z19
	VPDPBUSD     Z16, Z19, Z1
	VPDPBUSD     Z17, Z19, Z9
	VPBROADCASTD 8(R10), Z20
	VPXORD       Z31, Z20, Z20
	VPDPBUSD     Z16, Z20, Z2
	VPDPBUSD     Z17, Z20, Z10
	VPBROADCASTD 12(R10), Z21
	VPXORD       Z31, Z21, Z21
	VPDPBUSD     Z16, Z21, Z3
	VPDPBUSD     Z17, Z21, Z11
	VPBROADCASTD 16(R10), Z18
	VPXORD       Z31, Z18, Z18
	VPDPBUSD     Z16, Z18, Z4
	VPDPBUSD     Z17, Z18, Z12
	VPBROADCASTD 20(R10), Z19
	VPXORD       Z31, Z19, Z19
	VPDPBUSD     Z16, Z19, Z5
	VPDPBUSD     Z17, Z19, Z13
	VPBROADCASTD 24(R10), Z20
	VPXORD       Z31, Z20, Z20
	VPDPBUSD     Z16, Z20, Z6
	VPDPBUSD     Z17, Z20, Z14
	VPBROADCASTD 28(R10), Z21
	VPXORD       Z31, Z21, Z21
	VPDPBUSD     Z16, Z21, Z7
	VPDPBUSD     Z17, Z21, Z15
	ADDQ $32, R10

v2_store8:
	MOVQ accB+8(FP), R15
	VMOVDQU32 Z0, 0(DI)
	VMOVDQU32 Z8, 0(R15)
	VMOVDQU32 Z1, 64(DI)
	VMOVDQU32 Z9, 64(R15)
	VMOVDQU32 Z2, 128(DI)
	VMOVDQU32 Z10, 128(R15)
	VMOVDQU32 Z3, 192(DI)
	VMOVDQU32 Z11, 192(R15)
	VMOVDQU32 Z4, 256(DI)
	VMOVDQU32 Z12, 256(R15)
	VMOVDQU32 Z5, 320(DI)
	VMOVDQU32 Z13, 320(R15)
	VMOVDQU32 Z6, 384(DI)
	VMOVDQU32 Z14, 384(R15)
	VMOVDQU32 Z7, 448(DI)
	VMOVDQU32 Z15, 448(R15)
	ADDQ $512, DI
	ADDQ $512, R15
	MOVQ R15, accB+8(FP)
	LEAQ (SI)(BX*8), SI
	SUBQ $8, CX
	JMP  v2_block8

v2_row1:
	TESTQ CX, CX
	JZ    v2_done
	VMOVDQA32 Z30, Z0
	VMOVDQA32 Z29, Z8
	MOVQ SI, R9
	MOVQ R8, R12
	MOVQ R14, R15
	MOVQ groups+40(FP), AX
	TESTQ AX, AX
	JZ   v2_tail1

v2_loop1:
	VPBROADCASTD (R9), Z18
	VPXORD       Z31, Z18, Z18
	VPDPBUSD     (R12), Z18, Z0
	VPDPBUSD     (R15), Z18, Z8
	ADDQ $4, R9
	ADDQ $64, R12
	ADDQ $64, R15
	DECQ AX
	JNZ  v2_loop1

v2_tail1:
	TESTQ R10, R10
	JZ    v2_store1
	VPBROADCASTD (R10), Z18
	VPXORD       Z31, Z18, Z18
	VPDPBUSD     (R12), Z18, Z0
	VPDPBUSD     (R15), Z18, Z8
	ADDQ $4, R10

v2_store1:
	MOVQ accB+8(FP), R15
	VMOVDQU32 Z0, (DI)
	VMOVDQU32 Z8, (R15)
	ADDQ $64, DI
	ADDQ $64, R15
	MOVQ R15, accB+8(FP)
	ADDQ BX, SI
	DECQ CX
	JMP  v2_row1

v2_done:
	VZEROUPPER
	RET

// func maxAVX2(dst, src *int8, n int)
//
// dst[i] = max(dst[i], src[i]) for n (a multiple of 32) bytes: VPMAXSB.
TEXT ·maxAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX

max_loop:
	TESTQ   CX, CX
	JZ      max_done
	VMOVDQU (DI), Y0
	VPMAXSB (SI), Y0, Y0
	VMOVDQU Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	SUBQ    $32, CX
	JMP     max_loop

max_done:
	VZEROUPPER
	RET

// DWPAIRZ accumulates two depthwise taps for 16 channels into Z0: the taps'
// bytes are interleaved (VPUNPCKLBW/HBW), sign-extended to 16 int16 pairs
// and multiplied by the (w_a, w_b) pairs with one VPMADDWD.
#define DWPAIRZ(ta, tb, woff) \
	VMOVDQU      ta, X6 \
	VMOVDQU      tb, X7 \
	VPUNPCKLBW   X7, X6, X8 \
	VPUNPCKHBW   X7, X6, X9 \
	VINSERTI128  $1, X9, Y8, Y8 \
	VPMOVSXBW    Y8, Z8 \
	VPMADDWD     woff(R9), Z8, Z8 \
	VPADDD       Z8, Z0, Z0

// func depthwiseAVX512(dst, src *int8, n, c, rowStride, pixStep int, wp *[160]int16, e *epi)
//
// depthwiseAVX2 with the 16 channels in one ZMM and epilogueAVX512's steps.
TEXT ·depthwiseAVX512(SB), NOSPLIT, $0-64
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), DX
	MOVQ c+24(FP), CX
	MOVQ rowStride+32(FP), BX
	MOVQ pixStep+40(FP), R12
	MOVQ wp+48(FP), R9
	MOVQ e+56(FP), R8
	VMOVDQU32    0(R8), Z20
	VMOVDQU32    64(R8), Z21
	VMOVDQU32    128(R8), Z22
	VMOVDQU32    192(R8), Z23
	VMOVDQU32    256(R8), Z24
	VMOVDQU32    320(R8), Z25
	VPBROADCASTD 384(R8), Z26
	VPBROADCASTD 388(R8), Z27
	VPBROADCASTD 392(R8), Z28
	VPSHUFD      $0xF5, Z21, Z19
	MOVQ         $0x40000000, AX
	VPBROADCASTQ AX, Z29
	MOVL         $0x7fffffff, AX
	VPBROADCASTD AX, Z30
	MOVL         $0xAAAA, AX
	KMOVW        AX, K2
	VPXOR        X10, X10, X10

dwz_pixel:
	TESTQ DX, DX
	JZ    dwz_done
	MOVQ  SI, R10
	LEAQ  (SI)(BX*1), R11
	LEAQ  (R11)(BX*1), R13
	VPXORD Z0, Z0, Z0
	DWPAIRZ((R10), (R10)(CX*1), 0)
	DWPAIRZ((R10)(CX*2), (R11), 64)
	DWPAIRZ((R11)(CX*1), (R11)(CX*2), 128)
	DWPAIRZ((R13), (R13)(CX*1), 192)
	DWPAIRZ((R13)(CX*2), X10, 256)
	VPADDD    Z20, Z0, Z0
	VPSLLVD   Z22, Z0, Z3
	VPSRAVD   Z22, Z3, Z4
	VPCMPEQD  Z4, Z0, K1
	VPSRAD    $31, Z0, Z5
	VPXORD    Z30, Z5, Z5
	VPBLENDMD Z3, Z5, K1, Z0
	VPMULDQ   Z21, Z0, Z3
	VPSHUFD   $0xF5, Z0, Z4
	VPMULDQ   Z19, Z4, Z4
	VPADDQ    Z29, Z3, Z3
	VPADDQ    Z29, Z4, Z4
	VPSRLQ    $31, Z3, Z3
	VPSLLQ    $1, Z4, Z4
	VPBLENDMD Z4, Z3, K2, Z0
	VPSRAVD   Z24, Z0, Z3
	VPANDD    Z25, Z3, Z3
	VPSRAVD   Z23, Z0, Z0
	VPADDD    Z3, Z0, Z0
	VPMAXSD   Z26, Z0, Z0
	VPMINSD   Z27, Z0, Z0
	VPADDD    Z28, Z0, Z0
	VPMOVSDB  Z0, (DI)
	ADDQ CX, DI
	ADDQ R12, SI
	DECQ DX
	JMP  dwz_pixel

dwz_done:
	VZEROUPPER
	RET

// func tileAVXVNNI(acc *[tileM * panelN]int32, a *int8, lda, rows, groups int, w *int8, init *int32, tail *[tileM]uint32)
//
// tileVNNI512 for CPUs with AVX-VNNI but no AVX-512 (Alder Lake and later
// client cores, the Atom-class N100): the VEX form of VPDPBUSD on YMM, 8
// channels per register. Go's assembler only knows the EVEX form, so the
// instruction is emitted as BYTEs (checked with GNU as). 4 rows per block.
TEXT ·tileAVXVNNI(SB), NOSPLIT, $0-64
	MOVQ acc+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ lda+16(FP), BX
	MOVQ rows+24(FP), CX
	MOVQ w+40(FP), R8
	MOVQ init+48(FP), R13
	MOVQ tail+56(FP), R10
	MOVQ $0x80808080, AX
	MOVQ AX, X15
	VPBROADCASTD X15, Y15

avn_block4:
	CMPQ CX, $4
	JLT  avn_row1
	VMOVDQU (R13), Y0
	VMOVDQU 32(R13), Y1
	VMOVDQU (R13), Y2
	VMOVDQU 32(R13), Y3
	VMOVDQU (R13), Y4
	VMOVDQU 32(R13), Y5
	VMOVDQU (R13), Y6
	VMOVDQU 32(R13), Y7
	MOVQ SI, R9
	LEAQ (SI)(BX*1), R11
	MOVQ R8, R12
	MOVQ groups+32(FP), AX
	TESTQ AX, AX
	JZ   avn_tail4

avn_loop4:
	VMOVDQU      (R12), Y8
	VMOVDQU      32(R12), Y9
	VPBROADCASTD (R9), Y10
	VPBROADCASTD (R11), Y11
	VPBROADCASTD (R9)(BX*2), Y12
	VPBROADCASTD (R11)(BX*2), Y13
	VPXOR Y15, Y10, Y10
	VPXOR Y15, Y11, Y11
	VPXOR Y15, Y12, Y12
	VPXOR Y15, Y13, Y13
	BYTE $0xc4; BYTE $0xc2; BYTE $0x2d; BYTE $0x50; BYTE $0xc0 // VPDPBUSD Y8, Y10, Y0 (VEX: Y0 += u8(Y10) . s8(Y8))
	BYTE $0xc4; BYTE $0xc2; BYTE $0x2d; BYTE $0x50; BYTE $0xc9 // VPDPBUSD Y9, Y10, Y1 (VEX: Y1 += u8(Y10) . s8(Y9))
	BYTE $0xc4; BYTE $0xc2; BYTE $0x25; BYTE $0x50; BYTE $0xd0 // VPDPBUSD Y8, Y11, Y2 (VEX: Y2 += u8(Y11) . s8(Y8))
	BYTE $0xc4; BYTE $0xc2; BYTE $0x25; BYTE $0x50; BYTE $0xd9 // VPDPBUSD Y9, Y11, Y3 (VEX: Y3 += u8(Y11) . s8(Y9))
	BYTE $0xc4; BYTE $0xc2; BYTE $0x1d; BYTE $0x50; BYTE $0xe0 // VPDPBUSD Y8, Y12, Y4 (VEX: Y4 += u8(Y12) . s8(Y8))
	BYTE $0xc4; BYTE $0xc2; BYTE $0x1d; BYTE $0x50; BYTE $0xe9 // VPDPBUSD Y9, Y12, Y5 (VEX: Y5 += u8(Y12) . s8(Y9))
	BYTE $0xc4; BYTE $0xc2; BYTE $0x15; BYTE $0x50; BYTE $0xf0 // VPDPBUSD Y8, Y13, Y6 (VEX: Y6 += u8(Y13) . s8(Y8))
	BYTE $0xc4; BYTE $0xc2; BYTE $0x15; BYTE $0x50; BYTE $0xf9 // VPDPBUSD Y9, Y13, Y7 (VEX: Y7 += u8(Y13) . s8(Y9))
	ADDQ $4, R9
	ADDQ $4, R11
	ADDQ $64, R12
	DECQ AX
	JNZ  avn_loop4

avn_tail4:
	TESTQ R10, R10
	JZ    avn_store4
	VMOVDQU      (R12), Y8
	VMOVDQU      32(R12), Y9
	VPBROADCASTD 0(R10), Y10
	VPBROADCASTD 4(R10), Y11
	VPBROADCASTD 8(R10), Y12
	VPBROADCASTD 12(R10), Y13
	VPXOR Y15, Y10, Y10
	VPXOR Y15, Y11, Y11
	VPXOR Y15, Y12, Y12
	VPXOR Y15, Y13, Y13
	BYTE $0xc4; BYTE $0xc2; BYTE $0x2d; BYTE $0x50; BYTE $0xc0 // VPDPBUSD Y8, Y10, Y0 (VEX: Y0 += u8(Y10) . s8(Y8))
	BYTE $0xc4; BYTE $0xc2; BYTE $0x2d; BYTE $0x50; BYTE $0xc9 // VPDPBUSD Y9, Y10, Y1 (VEX: Y1 += u8(Y10) . s8(Y9))
	BYTE $0xc4; BYTE $0xc2; BYTE $0x25; BYTE $0x50; BYTE $0xd0 // VPDPBUSD Y8, Y11, Y2 (VEX: Y2 += u8(Y11) . s8(Y8))
	BYTE $0xc4; BYTE $0xc2; BYTE $0x25; BYTE $0x50; BYTE $0xd9 // VPDPBUSD Y9, Y11, Y3 (VEX: Y3 += u8(Y11) . s8(Y9))
	BYTE $0xc4; BYTE $0xc2; BYTE $0x1d; BYTE $0x50; BYTE $0xe0 // VPDPBUSD Y8, Y12, Y4 (VEX: Y4 += u8(Y12) . s8(Y8))
	BYTE $0xc4; BYTE $0xc2; BYTE $0x1d; BYTE $0x50; BYTE $0xe9 // VPDPBUSD Y9, Y12, Y5 (VEX: Y5 += u8(Y12) . s8(Y9))
	BYTE $0xc4; BYTE $0xc2; BYTE $0x15; BYTE $0x50; BYTE $0xf0 // VPDPBUSD Y8, Y13, Y6 (VEX: Y6 += u8(Y13) . s8(Y8))
	BYTE $0xc4; BYTE $0xc2; BYTE $0x15; BYTE $0x50; BYTE $0xf9 // VPDPBUSD Y9, Y13, Y7 (VEX: Y7 += u8(Y13) . s8(Y9))
	ADDQ $16, R10

avn_store4:
	VMOVDQU Y0, 0(DI)
	VMOVDQU Y1, 32(DI)
	VMOVDQU Y2, 64(DI)
	VMOVDQU Y3, 96(DI)
	VMOVDQU Y4, 128(DI)
	VMOVDQU Y5, 160(DI)
	VMOVDQU Y6, 192(DI)
	VMOVDQU Y7, 224(DI)
	ADDQ $256, DI
	LEAQ (SI)(BX*4), SI
	SUBQ $4, CX
	JMP  avn_block4

avn_row1:
	TESTQ CX, CX
	JZ    avn_done
	VMOVDQU (R13), Y0
	VMOVDQU 32(R13), Y1
	MOVQ SI, R9
	MOVQ R8, R12
	MOVQ groups+32(FP), AX
	TESTQ AX, AX
	JZ   avn_tail1

avn_loop1:
	VMOVDQU      (R12), Y8
	VMOVDQU      32(R12), Y9
	VPBROADCASTD (R9), Y10
	VPXOR        Y15, Y10, Y10
	BYTE $0xc4; BYTE $0xc2; BYTE $0x2d; BYTE $0x50; BYTE $0xc0 // VPDPBUSD Y8, Y10, Y0 (VEX: Y0 += u8(Y10) . s8(Y8))
	BYTE $0xc4; BYTE $0xc2; BYTE $0x2d; BYTE $0x50; BYTE $0xc9 // VPDPBUSD Y9, Y10, Y1 (VEX: Y1 += u8(Y10) . s8(Y9))
	ADDQ $4, R9
	ADDQ $64, R12
	DECQ AX
	JNZ  avn_loop1

avn_tail1:
	TESTQ R10, R10
	JZ    avn_store1
	VMOVDQU      (R12), Y8
	VMOVDQU      32(R12), Y9
	VPBROADCASTD (R10), Y10
	VPXOR        Y15, Y10, Y10
	BYTE $0xc4; BYTE $0xc2; BYTE $0x2d; BYTE $0x50; BYTE $0xc0 // VPDPBUSD Y8, Y10, Y0 (VEX: Y0 += u8(Y10) . s8(Y8))
	BYTE $0xc4; BYTE $0xc2; BYTE $0x2d; BYTE $0x50; BYTE $0xc9 // VPDPBUSD Y9, Y10, Y1 (VEX: Y1 += u8(Y10) . s8(Y9))
	ADDQ $4, R10

avn_store1:
	VMOVDQU Y0, (DI)
	VMOVDQU Y1, 32(DI)
	ADDQ $64, DI
	ADDQ BX, SI
	DECQ CX
	JMP  avn_row1

avn_done:
	VZEROUPPER
	RET

// Fast epilogue (epi.fast: every shift r in [1, 22] or a zero multiplier,
// the zero point folded into the rounding constant, see epi in
// impl_amd64.go): x*mult + rnd, one arithmetic 64-bit shift per lane, a
// masked blend of the even and odd results, the clamp and the narrowing.
// Parameters: Z20 bias, Z21 mult, Z19 mult of the odd lanes in even
// position, Z22/Z23 rounding constants of the even/odd lanes, Z24/Z25
// their shifts (31+r and r-1), Z26 Min, Z27 Max, K2 = 0xAAAA.
#define EPIFAST_SETUP \
	VMOVDQU32    0(R8), Z20 \
	VMOVDQU32    64(R8), Z21 \
	VPSHUFD      $0xF5, Z21, Z19 \
	VMOVDQU64    400(R8), Z22 \
	VMOVDQU64    464(R8), Z23 \
	VMOVDQU64    528(R8), Z24 \
	VMOVDQU64    592(R8), Z25 \
	VPBROADCASTD 656(R8), Z26 \
	VPBROADCASTD 660(R8), Z27 \
	MOVL         $0xAAAA, AX \
	KMOVW        AX, K2

// EPIFAST requantizes the 16 accumulators of Z0 (bias not yet added) into
// 16 bytes at dst. Clobbers Z0, Z3, Z4.
#define EPIFAST(dst) \
	VPADDD    Z20, Z0, Z0 \
	VPSHUFD   $0xF5, Z0, Z4 \
	VPMULDQ   Z21, Z0, Z3 \
	VPMULDQ   Z19, Z4, Z4 \
	VPADDQ    Z22, Z3, Z3 \
	VPADDQ    Z23, Z4, Z4 \
	VPSRAVQ   Z24, Z3, Z3 \
	VPSRAVQ   Z25, Z4, Z4 \
	VPBLENDMD Z4, Z3, K2, Z0 \
	VPMAXSD   Z26, Z0, Z0 \
	VPMINSD   Z27, Z0, Z0 \
	VPMOVSDB  Z0, dst

// func epilogueAVX512Fast(dst *int8, ldd int, acc *[tileM * panelN]int32, rows int, e *epi)
//
// epilogueAVX512 for panels whose epi.fast is set.
TEXT ·epilogueAVX512Fast(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ ldd+8(FP), BX
	MOVQ acc+16(FP), SI
	MOVQ rows+24(FP), CX
	MOVQ e+32(FP), R8
	EPIFAST_SETUP

epif_row2:
	CMPQ CX, $2
	JLT  epif_row1
	VMOVDQU32 (SI), Z0
	VMOVDQU32 64(SI), Z1
	EPIFAST((DI))
	VMOVDQA32 Z1, Z0
	EPIFAST((DI)(BX*1))
	ADDQ $128, SI
	LEAQ (DI)(BX*2), DI
	SUBQ $2, CX
	JMP  epif_row2

epif_row1:
	TESTQ CX, CX
	JZ    epif_done
	VMOVDQU32 (SI), Z0
	EPIFAST((DI))

epif_done:
	VZEROUPPER
	RET

// func depthwiseAVX512Fast(dst, src *int8, n, c, rowStride, pixStep int, wp *[160]int16, e *epi)
//
// depthwiseAVX512 with the fast epilogue.
TEXT ·depthwiseAVX512Fast(SB), NOSPLIT, $0-64
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), DX
	MOVQ c+24(FP), CX
	MOVQ rowStride+32(FP), BX
	MOVQ pixStep+40(FP), R12
	MOVQ wp+48(FP), R9
	MOVQ e+56(FP), R8
	EPIFAST_SETUP
	VPXOR        X10, X10, X10

dwf_pixel:
	TESTQ DX, DX
	JZ    dwf_done
	MOVQ  SI, R10
	LEAQ  (SI)(BX*1), R11
	LEAQ  (R11)(BX*1), R13
	VPXORD Z0, Z0, Z0
	DWPAIRZ((R10), (R10)(CX*1), 0)
	DWPAIRZ((R10)(CX*2), (R11), 64)
	DWPAIRZ((R11)(CX*1), (R11)(CX*2), 128)
	DWPAIRZ((R13), (R13)(CX*1), 192)
	DWPAIRZ((R13)(CX*2), X10, 256)
	EPIFAST((DI))
	ADDQ CX, DI
	ADDQ R12, SI
	DECQ DX
	JMP  dwf_pixel

dwf_done:
	VZEROUPPER
	RET

// func tileDirectVNNI512(acc *[tileM * panelN]int32, src *int8, pixStep, rows int, taps *int, ntaps, gpt int, w *int8, init *int32)
//
// ConvDirect's tile: rows output pixels (src, pixStep bytes apart) x one
// panel, each pixel's reduction read straight from the taps: for each of
// ntaps offsets, gpt groups of 4 bytes, broadcast, biased by XOR 0x80 and
// fed to VPDPBUSD as in tileVNNI512 (init undoes the bias). 8 pixels per
// block, then single pixels. ntaps and gpt are at least 1.
TEXT ·tileDirectVNNI512(SB), NOSPLIT, $0-72
	MOVQ acc+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ pixStep+16(FP), BX
	MOVQ rows+24(FP), CX
	MOVQ taps+32(FP), R8
	MOVQ w+56(FP), R14
	MOVQ init+64(FP), R9
	MOVL $0x80808080, AX
	VPBROADCASTD AX, Z31
	VMOVDQU32 (R9), Z30
	LEAQ (BX)(BX*2), R13

dir_block8:
	CMPQ CX, $8
	JLT  dir_row1
	VMOVDQA32 Z30, Z0
	VMOVDQA32 Z30, Z1
	VMOVDQA32 Z30, Z2
	VMOVDQA32 Z30, Z3
	VMOVDQA32 Z30, Z4
	VMOVDQA32 Z30, Z5
	VMOVDQA32 Z30, Z6
	VMOVDQA32 Z30, Z7
	MOVQ R14, R12
	MOVQ R8, R15
	MOVQ ntaps+40(FP), AX

dir_tap8:
	MOVQ (R15), R9
	ADDQ SI, R9
	LEAQ (R9)(BX*4), R11
	MOVQ gpt+48(FP), DX

dir_group8:
	VMOVDQU32    (R12), Z16
	VPBROADCASTD (R9), Z8
	VPBROADCASTD (R9)(BX*1), Z9
	VPBROADCASTD (R9)(BX*2), Z10
	VPBROADCASTD (R9)(R13*1), Z11
	VPBROADCASTD (R11), Z12
	VPBROADCASTD (R11)(BX*1), Z13
	VPBROADCASTD (R11)(BX*2), Z14
	VPBROADCASTD (R11)(R13*1), Z15
	VPXORD       Z31, Z8, Z8
	VPXORD       Z31, Z9, Z9
	VPXORD       Z31, Z10, Z10
	VPXORD       Z31, Z11, Z11
	VPXORD       Z31, Z12, Z12
	VPXORD       Z31, Z13, Z13
	VPXORD       Z31, Z14, Z14
	VPXORD       Z31, Z15, Z15
	VPDPBUSD     Z16, Z8, Z0
	VPDPBUSD     Z16, Z9, Z1
	VPDPBUSD     Z16, Z10, Z2
	VPDPBUSD     Z16, Z11, Z3
	VPDPBUSD     Z16, Z12, Z4
	VPDPBUSD     Z16, Z13, Z5
	VPDPBUSD     Z16, Z14, Z6
	VPDPBUSD     Z16, Z15, Z7
	ADDQ $4, R9
	ADDQ $4, R11
	ADDQ $64, R12
	DECQ DX
	JNZ  dir_group8
	ADDQ $8, R15
	DECQ AX
	JNZ  dir_tap8
	VMOVDQU32 Z0, 0(DI)
	VMOVDQU32 Z1, 64(DI)
	VMOVDQU32 Z2, 128(DI)
	VMOVDQU32 Z3, 192(DI)
	VMOVDQU32 Z4, 256(DI)
	VMOVDQU32 Z5, 320(DI)
	VMOVDQU32 Z6, 384(DI)
	VMOVDQU32 Z7, 448(DI)
	ADDQ $512, DI
	LEAQ (SI)(BX*8), SI
	SUBQ $8, CX
	JMP  dir_block8

dir_row1:
	TESTQ CX, CX
	JZ    dir_done
	VMOVDQA32 Z30, Z0
	MOVQ R14, R12
	MOVQ R8, R15
	MOVQ ntaps+40(FP), AX

dir_tap1:
	MOVQ (R15), R9
	ADDQ SI, R9
	MOVQ gpt+48(FP), DX

dir_group1:
	VPBROADCASTD (R9), Z5
	VPXORD       Z31, Z5, Z5
	VPDPBUSD     (R12), Z5, Z0
	ADDQ $4, R9
	ADDQ $64, R12
	DECQ DX
	JNZ  dir_group1
	ADDQ $8, R15
	DECQ AX
	JNZ  dir_tap1
	VMOVDQU32 Z0, (DI)
	ADDQ $64, DI
	ADDQ BX, SI
	DECQ CX
	JMP  dir_row1

dir_done:
	VZEROUPPER
	RET

// DWGROUP transposes the bytes of four taps (each 64 bytes, XOR 0x80
// applied) into the four accumulators' dword order and adds them with
// VPDPBUSD against the group's weights at woff of R9.
#define DWGROUP(ta, tb, tc, td, woff) \
	VPXORD     ta, Z31, Z4 \
	VPXORD     tb, Z31, Z5 \
	VPXORD     tc, Z31, Z6 \
	VPXORD     td, Z31, Z7 \
	VPUNPCKLBW Z5, Z4, Z8 \
	VPUNPCKHBW Z5, Z4, Z9 \
	VPUNPCKLBW Z7, Z6, Z10 \
	VPUNPCKHBW Z7, Z6, Z11 \
	VPUNPCKLWD Z10, Z8, Z12 \
	VPUNPCKHWD Z10, Z8, Z13 \
	VPUNPCKLWD Z11, Z9, Z14 \
	VPUNPCKHWD Z11, Z9, Z15 \
	VPDPBUSD   woff(R9), Z12, Z0 \
	VPDPBUSD   woff+64(R9), Z13, Z1 \
	VPDPBUSD   woff+128(R9), Z14, Z2 \
	VPDPBUSD   woff+192(R9), Z15, Z3

// DWEPI is the fast epilogue (without the bias, already in the
// accumulator) on accumulator ACC with the parameters of accumulator k of
// the dwUnit at R9, up to the int32 result x+zp. Clobbers Z4, Z5.
#define DWEPI(ACC, k) \
	VPSHUFD   $0xF5, ACC, Z4 \
	VPMULDQ   1280+k*64(R9), ACC, Z5 \
	VPMULDQ   1536+k*64(R9), Z4, Z4 \
	VPADDQ    1792+k*64(R9), Z5, Z5 \
	VPADDQ    2048+k*64(R9), Z4, Z4 \
	VPSRAVQ   2304+k*64(R9), Z5, Z5 \
	VPSRAVQ   2560+k*64(R9), Z4, Z4 \
	VPBLENDMD Z4, Z5, K2, ACC

// func depthwiseVNNI512(dst, src *int8, n, c, rowStride, srcStep, dstStep int, u *dwUnit)
//
// n units of 64 bytes (see dwUnit): src points at the top-left tap of the
// first, rows rowStride apart, taps c apart, units srcStep apart; dst
// units dstStep apart. Every window is inside the image.
TEXT ·depthwiseVNNI512(SB), NOSPLIT, $0-64
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), DX
	MOVQ c+24(FP), CX
	MOVQ rowStride+32(FP), BX
	MOVQ srcStep+40(FP), R12
	MOVQ dstStep+48(FP), R14
	MOVQ u+56(FP), R9
	MOVL $0x80808080, AX
	VPBROADCASTD AX, Z31
	VMOVDQU8     768(R9), Z24
	VMOVDQU8     832(R9), Z25
	VMOVDQU8     896(R9), Z26
	VMOVDQU8     960(R9), Z27
	VPBROADCASTB 2816(R9), Z28
	VPBROADCASTB 2817(R9), Z29
	MOVL         $0xAAAA, AX
	KMOVW        AX, K2

dwv_unit:
	TESTQ DX, DX
	JZ    dwv_done
	MOVQ  SI, R10
	LEAQ  (SI)(BX*1), R11
	LEAQ  (R11)(BX*1), R13
	VMOVDQU32 1024(R9), Z0
	VMOVDQU32 1088(R9), Z1
	VMOVDQU32 1152(R9), Z2
	VMOVDQU32 1216(R9), Z3
	DWGROUP((R10), (R10)(CX*1), (R10)(CX*2), (R11), 0)
	DWGROUP((R11)(CX*1), (R11)(CX*2), (R13), (R13)(CX*1), 256)
	VPXORD     (R13)(CX*2), Z31, Z4
	VPERMB     Z4, Z24, Z12
	VPERMB     Z4, Z25, Z13
	VPERMB     Z4, Z26, Z14
	VPERMB     Z4, Z27, Z15
	VPDPBUSD   512(R9), Z12, Z0
	VPDPBUSD   576(R9), Z13, Z1
	VPDPBUSD   640(R9), Z14, Z2
	VPDPBUSD   704(R9), Z15, Z3
	DWEPI(Z0, 0)
	DWEPI(Z1, 1)
	DWEPI(Z2, 2)
	DWEPI(Z3, 3)
	VPACKSSDW Z1, Z0, Z0
	VPACKSSDW Z3, Z2, Z2
	VPACKSSWB Z2, Z0, Z0
	VPMAXSB   Z28, Z0, Z0
	VPMINSB   Z29, Z0, Z0
	VMOVDQU8  Z0, (DI)
	ADDQ R14, DI
	ADDQ R12, SI
	DECQ DX
	JMP  dwv_unit

dwv_done:
	VZEROUPPER
	RET

// REQU is the fast epilogue on 16 int32 lanes of X with a uniform
// multiplier (M, a dword broadcast), rounding constant (RND) and shifts
// (SE, SO: xmm counts for the even and odd lanes). Clobbers Z4, Z5.
#define REQU(X, M, RND, SE, SO) \
	VPSHUFD   $0xF5, X, Z4 \
	VPMULDQ   M, X, Z5 \
	VPMULDQ   M, Z4, Z4 \
	VPADDQ    RND, Z5, Z5 \
	VPADDQ    RND, Z4, Z4 \
	VPSRAQ    SE, Z5, Z5 \
	VPSRAQ    SO, Z4, Z4 \
	VPBLENDMD Z4, Z5, K2, X

// ADD16 computes 16 elements of AddInt8 at off of (SI) and (DX) up to
// the output's x+zp, in OUT.
#define ADD16(off, OUT) \
	VPMOVSXBD off(SI), Z0 \
	VPSUBD    Z16, Z0, Z0 \
	VPSLLD    X12, Z0, Z0 \
	REQU(Z0, Z18, Z21, X24, X25) \
	VPMOVSXBD off(DX), Z1 \
	VPSUBD    Z17, Z1, Z1 \
	VPSLLD    X13, Z1, Z1 \
	REQU(Z1, Z19, Z22, X26, X27) \
	VPADDD    Z1, Z0, OUT \
	REQU(OUT, Z20, Z23, X28, X29)

// func addAVX512(dst, a, b *int8, n int, f *addFast)
//
// n (a multiple of 64) elements of AddInt8, every requantization through
// the fast epilogue; four blocks of 16 are narrowed by VPACKSSDW and
// VPACKSSWB, put back in order by VPERMB and clamped as bytes.
TEXT ·addAVX512(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ n+24(FP), CX
	MOVQ f+32(FP), R8
	VPBROADCASTD 0(R8), Z16
	VPBROADCASTD 4(R8), Z17
	VPBROADCASTD 8(R8), Z18
	VPBROADCASTD 12(R8), Z19
	VPBROADCASTD 16(R8), Z20
	VPBROADCASTB 20(R8), Z30
	VPBROADCASTB 21(R8), Z31
	VPBROADCASTQ 24(R8), Z21
	VPBROADCASTQ 32(R8), Z22
	VPBROADCASTQ 40(R8), Z23
	VMOVQ        48(R8), X24
	VMOVQ        56(R8), X25
	VMOVQ        64(R8), X26
	VMOVQ        72(R8), X27
	VMOVQ        80(R8), X28
	VMOVQ        88(R8), X29
	VMOVQ        96(R8), X12
	VMOVQ        104(R8), X13
	VMOVDQU8     ·addPerm(SB), Z15
	MOVL         $0xAAAA, AX
	KMOVW        AX, K2

add512_loop:
	TESTQ CX, CX
	JZ    add512_done
	ADD16(0, Z6)
	ADD16(16, Z7)
	ADD16(32, Z8)
	ADD16(48, Z9)
	VPACKSSDW Z7, Z6, Z6
	VPACKSSDW Z9, Z8, Z8
	VPACKSSWB Z8, Z6, Z6
	VPERMB    Z6, Z15, Z6
	VPMAXSB   Z30, Z6, Z6
	VPMINSB   Z31, Z6, Z6
	VMOVDQU8  Z6, (DI)
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $64, DI
	SUBQ $64, CX
	JMP  add512_loop

add512_done:
	VZEROUPPER
	RET

// addPerm undoes the lane interleaving of VPACKSSDW+VPACKSSWB on four
// blocks of 16: element e sits at byte 16*((e%16)/4) + 4*(e/16) + e%4.
DATA ·addPerm+0(SB)/8, $0x1312111003020100
DATA ·addPerm+8(SB)/8, $0x3332313023222120
DATA ·addPerm+16(SB)/8, $0x1716151407060504
DATA ·addPerm+24(SB)/8, $0x3736353427262524
DATA ·addPerm+32(SB)/8, $0x1b1a19180b0a0908
DATA ·addPerm+40(SB)/8, $0x3b3a39382b2a2928
DATA ·addPerm+48(SB)/8, $0x1f1e1d1c0f0e0d0c
DATA ·addPerm+56(SB)/8, $0x3f3e3d3c2f2e2d2c
GLOBL ·addPerm(SB), RODATA|NOPTR, $64

// DWLD2 loads the 64 bytes of a two-pixel unit at stride 2 and 32
// channels: the tap's 32 bytes of the first pixel at t, of the second at
// t2 (t+64), biased by XOR 0x80.
#define DWLD2(t, t2, Z, Y) \
	VMOVDQU8     t, Y \
	VINSERTI64X4 $1, t2, Z, Z \
	VPXORD       Z31, Z, Z

// DWGROUP2 is DWGROUP on two-pixel units (DWLD2 loads).
#define DWGROUP2(ta, ta2, tb, tb2, tc, tc2, td, td2, woff) \
	DWLD2(ta, ta2, Z4, Y4) \
	DWLD2(tb, tb2, Z5, Y5) \
	DWLD2(tc, tc2, Z6, Y6) \
	DWLD2(td, td2, Z7, Y7) \
	VPUNPCKLBW Z5, Z4, Z8 \
	VPUNPCKHBW Z5, Z4, Z9 \
	VPUNPCKLBW Z7, Z6, Z10 \
	VPUNPCKHBW Z7, Z6, Z11 \
	VPUNPCKLWD Z10, Z8, Z12 \
	VPUNPCKHWD Z10, Z8, Z13 \
	VPUNPCKLWD Z11, Z9, Z14 \
	VPUNPCKHWD Z11, Z9, Z15 \
	VPDPBUSD   woff(R9), Z12, Z0 \
	VPDPBUSD   woff+64(R9), Z13, Z1 \
	VPDPBUSD   woff+128(R9), Z14, Z2 \
	VPDPBUSD   woff+192(R9), Z15, Z3

// func depthwiseVNNI512S2(dst, src *int8, n, c, rowStride, srcStep, dstStep int, u *dwUnit)
//
// depthwiseVNNI512 for 32 channels at stride 2: a unit is two output
// pixels whose taps are 64 bytes apart in the input (c must be 32).
TEXT ·depthwiseVNNI512S2(SB), NOSPLIT, $0-64
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), DX
	MOVQ c+24(FP), CX
	MOVQ rowStride+32(FP), BX
	MOVQ srcStep+40(FP), R12
	MOVQ dstStep+48(FP), R14
	MOVQ u+56(FP), R9
	MOVL $0x80808080, AX
	VPBROADCASTD AX, Z31
	VMOVDQU8     768(R9), Z24
	VMOVDQU8     832(R9), Z25
	VMOVDQU8     896(R9), Z26
	VMOVDQU8     960(R9), Z27
	VPBROADCASTB 2816(R9), Z28
	VPBROADCASTB 2817(R9), Z29
	MOVL         $0xAAAA, AX
	KMOVW        AX, K2

dws2_unit:
	TESTQ DX, DX
	JZ    dws2_done
	MOVQ  SI, R10
	LEAQ  (SI)(BX*1), R11
	LEAQ  (R11)(BX*1), R13
	VMOVDQU32 1024(R9), Z0
	VMOVDQU32 1088(R9), Z1
	VMOVDQU32 1152(R9), Z2
	VMOVDQU32 1216(R9), Z3
	DWGROUP2((R10), 64(R10), 32(R10), 96(R10), 64(R10), 128(R10), (R11), 64(R11), 0)
	DWGROUP2(32(R11), 96(R11), 64(R11), 128(R11), (R13), 64(R13), 32(R13), 96(R13), 256)
	DWLD2(64(R13), 128(R13), Z4, Y4)
	VPERMB     Z4, Z24, Z12
	VPERMB     Z4, Z25, Z13
	VPERMB     Z4, Z26, Z14
	VPERMB     Z4, Z27, Z15
	VPDPBUSD   512(R9), Z12, Z0
	VPDPBUSD   576(R9), Z13, Z1
	VPDPBUSD   640(R9), Z14, Z2
	VPDPBUSD   704(R9), Z15, Z3
	DWEPI(Z0, 0)
	DWEPI(Z1, 1)
	DWEPI(Z2, 2)
	DWEPI(Z3, 3)
	VPACKSSDW Z1, Z0, Z0
	VPACKSSDW Z3, Z2, Z2
	VPACKSSWB Z2, Z0, Z0
	VPMAXSB   Z28, Z0, Z0
	VPMINSB   Z29, Z0, Z0
	VMOVDQU8  Z0, (DI)
	ADDQ R14, DI
	ADDQ R12, SI
	DECQ DX
	JMP  dws2_unit

dws2_done:
	VZEROUPPER
	RET

// FEPI is the fast epilogue on accumulator A (bias included), up to x+zp
// in int32, with one panel's parameters in registers (FEPILOAD). Clobbers
// Z27, Z28.
#define FEPI(A) \
	VPSHUFD   $0xF5, A, Z27 \
	VPMULDQ   Z16, A, Z28 \
	VPMULDQ   Z17, Z27, Z27 \
	VPADDQ    Z18, Z28, Z28 \
	VPADDQ    Z19, Z27, Z27 \
	VPSRAVQ   Z20, Z28, Z28 \
	VPSRAVQ   Z21, Z27, Z27 \
	VPBLENDMD Z27, Z28, K2, A

// FEPILOAD loads the fast-epilogue parameters of the epi at E into
// Z16-Z21 (free once the tile's products are done).
#define FEPILOAD(E) \
	VMOVDQU32 64(E), Z16 \
	VMOVDQU32 668(E), Z17 \
	VMOVDQU64 400(E), Z18 \
	VMOVDQU64 464(E), Z19 \
	VMOVDQU64 528(E), Z20 \
	VMOVDQU64 592(E), Z21

// FPACK4 narrows four rows of 16 channels (A0-A3, x+zp in int32) to
// bytes with VPACKSSDW and VPACKSSWB, puts each row's 16 bytes together
// (VPERMB with addPerm in Z24), clamps them to [Min, Max] (Z25, Z26) and
// stores them at off of D, D+ldd, D+2*ldd, D+3*ldd (R11 = ldd, R13 = 3*ldd).
#define FPACK4(A0, A1, A2, A3, X0, D, off) \
	VPACKSSDW     A1, A0, A0 \
	VPACKSSDW     A3, A2, A2 \
	VPACKSSWB     A2, A0, A0 \
	VPERMB        A0, Z24, A0 \
	VPMAXSB       Z25, A0, A0 \
	VPMINSB       Z26, A0, A0 \
	VMOVDQU       X0, off(D) \
	VEXTRACTI32X4 $1, A0, off(D)(R11*1) \
	VEXTRACTI32X4 $2, A0, off(D)(R11*2) \
	VEXTRACTI32X4 $3, A0, off(D)(R13*1)

// func gemmVNNI512x2Fused(accA, accB *[tileM * panelN]int32, a *int8, lda, rows, groups int, w *int8, pstride int, init *int32, tail *[tileM]uint32, dst *int8, ldd int, initF *int32, eA, eB *epi)
//
// tileVNNI512x2 with the fast epilogue fused for whole blocks of 8 rows:
// their accumulators start from initF (init plus the bias) and go
// straight to bytes at dst (rows ldd apart, the two panels 16 bytes
// apart), four rows per narrowing. The last rows%8 rows are left raw in
// accA and accB from row 0, for the caller's epilogue.
TEXT ·gemmVNNI512x2Fused(SB), NOSPLIT, $0-120
	MOVQ accA+0(FP), DI
	MOVQ accB+8(FP), R15
	MOVQ a+16(FP), SI
	MOVQ lda+24(FP), BX
	MOVQ rows+32(FP), CX
	MOVQ w+48(FP), R8
	MOVQ pstride+56(FP), R14
	MOVQ init+64(FP), R9
	MOVQ tail+72(FP), R10
	MOVL $0x80808080, AX
	VPBROADCASTD AX, Z31
	VMOVDQU32 (R9), Z30
	VMOVDQU32 64(R9), Z29
	ADDQ R8, R14 // second panel
	MOVQ initF+96(FP), AX
	VMOVDQU32 (AX), Z22
	VMOVDQU32 64(AX), Z23
	VMOVDQU8  ·addPerm(SB), Z24
	MOVQ eA+104(FP), AX
	VPBROADCASTB 656(AX), Z25
	VPBROADCASTB 660(AX), Z26
	MOVL $0xAAAA, AX
	KMOVW AX, K2

v2f_block8:
	CMPQ CX, $8
	JLT  v2f_row1
	VMOVDQA32 Z22, Z0
	VMOVDQA32 Z23, Z8
	VMOVDQA32 Z22, Z1
	VMOVDQA32 Z23, Z9
	VMOVDQA32 Z22, Z2
	VMOVDQA32 Z23, Z10
	VMOVDQA32 Z22, Z3
	VMOVDQA32 Z23, Z11
	VMOVDQA32 Z22, Z4
	VMOVDQA32 Z23, Z12
	VMOVDQA32 Z22, Z5
	VMOVDQA32 Z23, Z13
	VMOVDQA32 Z22, Z6
	VMOVDQA32 Z23, Z14
	VMOVDQA32 Z22, Z7
	VMOVDQA32 Z23, Z15
	MOVQ SI, R9
	LEAQ (SI)(BX*1), R11
	LEAQ (SI)(BX*4), R13
	LEAQ (R13)(BX*1), DX
	MOVQ R8, R12
	MOVQ R14, R15
	MOVQ groups+40(FP), AX
	TESTQ AX, AX
	JZ   v2f_tail8

v2f_loop8:
	VMOVDQU32 (R12), Z16
	VMOVDQU32 (R15), Z17
	VPBROADCASTD (R9), Z18
	VPXORD       Z31, Z18, Z18
	VPDPBUSD     Z16, Z18, Z0
	VPDPBUSD     Z17, Z18, Z8
	VPBROADCASTD (R11), Z19
	VPXORD       Z31, Z19, Z19
	VPDPBUSD     Z16, Z19, Z1
	VPDPBUSD     Z17, Z19, Z9
	VPBROADCASTD (R9)(BX*2), Z20
	VPXORD       Z31, Z20, Z20
	VPDPBUSD     Z16, Z20, Z2
	VPDPBUSD     Z17, Z20, Z10
	VPBROADCASTD (R11)(BX*2), Z21
	VPXORD       Z31, Z21, Z21
	VPDPBUSD     Z16, Z21, Z3
	VPDPBUSD     Z17, Z21, Z11
	VPBROADCASTD (R13), Z18
	VPXORD       Z31, Z18, Z18
	VPDPBUSD     Z16, Z18, Z4
	VPDPBUSD     Z17, Z18, Z12
	VPBROADCASTD (DX), Z19
	VPXORD       Z31, Z19, Z19
	VPDPBUSD     Z16, Z19, Z5
	VPDPBUSD     Z17, Z19, Z13
	VPBROADCASTD (R13)(BX*2), Z20
	VPXORD       Z31, Z20, Z20
	VPDPBUSD     Z16, Z20, Z6
	VPDPBUSD     Z17, Z20, Z14
	VPBROADCASTD (DX)(BX*2), Z21
	VPXORD       Z31, Z21, Z21
	VPDPBUSD     Z16, Z21, Z7
	VPDPBUSD     Z17, Z21, Z15
	ADDQ $4, R9
	ADDQ $4, R11
	ADDQ $4, R13
	ADDQ $4, DX
	ADDQ $64, R12
	ADDQ $64, R15
	DECQ AX
	JNZ  v2f_loop8

v2f_tail8:
	TESTQ R10, R10
	JZ    v2f_store8
	VMOVDQU32 (R12), Z16
	VMOVDQU32 (R15), Z17
	VPBROADCASTD 0(R10), Z18
	VPXORD       Z31, Z18, Z18
	VPDPBUSD     Z16, Z18, Z0
	VPDPBUSD     Z17, Z18, Z8
	VPBROADCASTD 4(R10), Z19
	VPXORD       Z31, Z19, Z19
	VPDPBUSD     Z16, Z19, Z1
	VPDPBUSD     Z17, Z19, Z9
	VPBROADCASTD 8(R10), Z20
	VPXORD       Z31, Z20, Z20
	VPDPBUSD     Z16, Z20, Z2
	VPDPBUSD     Z17, Z20, Z10
	VPBROADCASTD 12(R10), Z21
	VPXORD       Z31, Z21, Z21
	VPDPBUSD     Z16, Z21, Z3
	VPDPBUSD     Z17, Z21, Z11
	VPBROADCASTD 16(R10), Z18
	VPXORD       Z31, Z18, Z18
	VPDPBUSD     Z16, Z18, Z4
	VPDPBUSD     Z17, Z18, Z12
	VPBROADCASTD 20(R10), Z19
	VPXORD       Z31, Z19, Z19
	VPDPBUSD     Z16, Z19, Z5
	VPDPBUSD     Z17, Z19, Z13
	VPBROADCASTD 24(R10), Z20
	VPXORD       Z31, Z20, Z20
	VPDPBUSD     Z16, Z20, Z6
	VPDPBUSD     Z17, Z20, Z14
	VPBROADCASTD 28(R10), Z21
	VPXORD       Z31, Z21, Z21
	VPDPBUSD     Z16, Z21, Z7
	VPDPBUSD     Z17, Z21, Z15
	ADDQ $32, R10

v2f_store8:
	MOVQ dst+80(FP), R9
	MOVQ ldd+88(FP), R11
	LEAQ (R11)(R11*2), R13
	LEAQ (R9)(R11*4), DX
	MOVQ eA+104(FP), R12
	MOVQ eB+112(FP), R15
	FEPILOAD(R12)
	FEPI(Z0)
	FEPI(Z1)
	FEPI(Z2)
	FEPI(Z3)
	FEPI(Z4)
	FEPI(Z5)
	FEPI(Z6)
	FEPI(Z7)
	FEPILOAD(R15)
	FEPI(Z8)
	FEPI(Z9)
	FEPI(Z10)
	FEPI(Z11)
	FEPI(Z12)
	FEPI(Z13)
	FEPI(Z14)
	FEPI(Z15)
	FPACK4(Z0, Z1, Z2, Z3, X0, R9, 0)
	FPACK4(Z4, Z5, Z6, Z7, X4, DX, 0)
	FPACK4(Z8, Z9, Z10, Z11, X8, R9, 16)
	FPACK4(Z12, Z13, Z14, Z15, X12, DX, 16)
	LEAQ (R9)(R11*8), R9
	MOVQ R9, dst+80(FP)
	LEAQ (SI)(BX*8), SI
	SUBQ $8, CX
	JMP  v2f_block8

v2f_row1:
	TESTQ CX, CX
	JZ    v2f_done
	VMOVDQA32 Z30, Z0
	VMOVDQA32 Z29, Z8
	MOVQ SI, R9
	MOVQ R8, R12
	MOVQ R14, R15
	MOVQ groups+40(FP), AX
	TESTQ AX, AX
	JZ   v2f_tail1

v2f_loop1:
	VPBROADCASTD (R9), Z18
	VPXORD       Z31, Z18, Z18
	VPDPBUSD     (R12), Z18, Z0
	VPDPBUSD     (R15), Z18, Z8
	ADDQ $4, R9
	ADDQ $64, R12
	ADDQ $64, R15
	DECQ AX
	JNZ  v2f_loop1

v2f_tail1:
	TESTQ R10, R10
	JZ    v2f_store1
	VPBROADCASTD (R10), Z18
	VPXORD       Z31, Z18, Z18
	VPDPBUSD     (R12), Z18, Z0
	VPDPBUSD     (R15), Z18, Z8
	ADDQ $4, R10

v2f_store1:
	MOVQ accB+8(FP), R15
	VMOVDQU32 Z0, (DI)
	VMOVDQU32 Z8, (R15)
	ADDQ $64, DI
	ADDQ $64, R15
	MOVQ R15, accB+8(FP)
	ADDQ BX, SI
	DECQ CX
	JMP  v2f_row1

v2f_done:
	VZEROUPPER
	RET

// func tileDirectVNNI512B(acc *[tileM * panelN]int32, src *int8, pixStep, rows int, taps *int, ntaps, gpt int, w *int8, init *int32)
//
// tileDirectVNNI512 on a source already biased by XOR 0x80 (ConvDirectBiased):
// no XOR per broadcast.
TEXT ·tileDirectVNNI512B(SB), NOSPLIT, $0-72
	MOVQ acc+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ pixStep+16(FP), BX
	MOVQ rows+24(FP), CX
	MOVQ taps+32(FP), R8
	MOVQ w+56(FP), R14
	MOVQ init+64(FP), R9
	MOVL $0x80808080, AX
	VPBROADCASTD AX, Z31
	VMOVDQU32 (R9), Z30
	LEAQ (BX)(BX*2), R13

dirb_block8:
	CMPQ CX, $8
	JLT  dirb_row1
	VMOVDQA32 Z30, Z0
	VMOVDQA32 Z30, Z1
	VMOVDQA32 Z30, Z2
	VMOVDQA32 Z30, Z3
	VMOVDQA32 Z30, Z4
	VMOVDQA32 Z30, Z5
	VMOVDQA32 Z30, Z6
	VMOVDQA32 Z30, Z7
	MOVQ R14, R12
	MOVQ R8, R15
	MOVQ ntaps+40(FP), AX

dirb_tap8:
	MOVQ (R15), R9
	ADDQ SI, R9
	LEAQ (R9)(BX*4), R11
	MOVQ gpt+48(FP), DX

dirb_group8:
	VMOVDQU32    (R12), Z16
	VPBROADCASTD (R9), Z8
	VPBROADCASTD (R9)(BX*1), Z9
	VPBROADCASTD (R9)(BX*2), Z10
	VPBROADCASTD (R9)(R13*1), Z11
	VPBROADCASTD (R11), Z12
	VPBROADCASTD (R11)(BX*1), Z13
	VPBROADCASTD (R11)(BX*2), Z14
	VPBROADCASTD (R11)(R13*1), Z15
	VPDPBUSD     Z16, Z8, Z0
	VPDPBUSD     Z16, Z9, Z1
	VPDPBUSD     Z16, Z10, Z2
	VPDPBUSD     Z16, Z11, Z3
	VPDPBUSD     Z16, Z12, Z4
	VPDPBUSD     Z16, Z13, Z5
	VPDPBUSD     Z16, Z14, Z6
	VPDPBUSD     Z16, Z15, Z7
	ADDQ $4, R9
	ADDQ $4, R11
	ADDQ $64, R12
	DECQ DX
	JNZ  dirb_group8
	ADDQ $8, R15
	DECQ AX
	JNZ  dirb_tap8
	VMOVDQU32 Z0, 0(DI)
	VMOVDQU32 Z1, 64(DI)
	VMOVDQU32 Z2, 128(DI)
	VMOVDQU32 Z3, 192(DI)
	VMOVDQU32 Z4, 256(DI)
	VMOVDQU32 Z5, 320(DI)
	VMOVDQU32 Z6, 384(DI)
	VMOVDQU32 Z7, 448(DI)
	ADDQ $512, DI
	LEAQ (SI)(BX*8), SI
	SUBQ $8, CX
	JMP  dirb_block8

dirb_row1:
	TESTQ CX, CX
	JZ    dirb_done
	VMOVDQA32 Z30, Z0
	MOVQ R14, R12
	MOVQ R8, R15
	MOVQ ntaps+40(FP), AX

dirb_tap1:
	MOVQ (R15), R9
	ADDQ SI, R9
	MOVQ gpt+48(FP), DX

dirb_group1:
	VPBROADCASTD (R9), Z5
	VPDPBUSD     (R12), Z5, Z0
	ADDQ $4, R9
	ADDQ $64, R12
	DECQ DX
	JNZ  dirb_group1
	ADDQ $8, R15
	DECQ AX
	JNZ  dirb_tap1
	VMOVDQU32 Z0, (DI)
	ADDQ $64, DI
	ADDQ BX, SI
	DECQ CX
	JMP  dirb_row1

dirb_done:
	VZEROUPPER
	RET

// func xorCopyAVX2(dst, src *int8, n int)
//
// dst[i] = src[i] ^ 0x80 for n (a multiple of 32) bytes.
TEXT ·xorCopyAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	MOVL $0x80808080, AX
	MOVL AX, X1
	VPBROADCASTD X1, Y1

xc_loop:
	CMPQ CX, $128
	JLT  xc_32
	VPXOR   (SI), Y1, Y0
	VPXOR   32(SI), Y1, Y2
	VPXOR   64(SI), Y1, Y3
	VPXOR   96(SI), Y1, Y4
	VMOVDQU Y0, (DI)
	VMOVDQU Y2, 32(DI)
	VMOVDQU Y3, 64(DI)
	VMOVDQU Y4, 96(DI)
	ADDQ $128, SI
	ADDQ $128, DI
	SUBQ $128, CX
	JMP  xc_loop

xc_32:
	TESTQ CX, CX
	JZ    xc_done
	VPXOR   (SI), Y1, Y0
	VMOVDQU Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $32, CX
	JMP  xc_32

xc_done:
	VZEROUPPER
	RET

// FEPI1 is FEPI on accumulator A, then the clamp to [Min, Max] (Z23, Z24)
// and a masked VPMOVSDB of the row's nj bytes (K3) at DI, which moves on
// by ldd (R14).
#define FEPI1(A) \
	FEPI(A) \
	VPMAXSD  Z23, A, A \
	VPMINSD  Z24, A, A \
	VPMOVSDB A, K3, (DI) \
	ADDQ     R14, DI

// func gemmVNNI512Fused1(dst *int8, a *int8, lda, rows, groups int, w *int8, init *int32, tail *[tileM]uint32, ldd int, e *epi, mask int)
//
// tileVNNI512 on one panel for any number of rows (tail must be nil),
// with init holding the bias too and the fast epilogue fused: each row's
// first nj channels (mask = 1<<nj - 1) go straight to dst, ldd apart.
TEXT ·gemmVNNI512Fused1(SB), NOSPLIT, $0-88
	MOVQ dst+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ lda+16(FP), BX
	MOVQ rows+24(FP), CX
	MOVQ groups+32(FP), DX
	MOVQ w+40(FP), R8
	MOVQ init+48(FP), R9
	MOVQ tail+56(FP), R10
	MOVL $0x80808080, AX
	VPBROADCASTD AX, Z31
	VMOVDQU32 (R9), Z30
	MOVQ ldd+64(FP), R14
	MOVQ e+72(FP), R15
	MOVQ mask+80(FP), AX
	KMOVW AX, K3
	MOVL $0xAAAA, AX
	KMOVW AX, K2
	VPBROADCASTD 656(R15), Z23
	VPBROADCASTD 660(R15), Z24

vf1_block8:
	CMPQ CX, $8
	JLT  vf1_block4
	VMOVDQA32 Z30, Z0
	VMOVDQA32 Z30, Z1
	VMOVDQA32 Z30, Z2
	VMOVDQA32 Z30, Z3
	VMOVDQA32 Z30, Z4
	VMOVDQA32 Z30, Z5
	VMOVDQA32 Z30, Z6
	VMOVDQA32 Z30, Z7
	MOVQ SI, R9
	LEAQ (SI)(BX*1), R11
	LEAQ (SI)(BX*4), R13
	LEAQ (R13)(BX*1), DX
	MOVQ R8, R12
	MOVQ groups+32(FP), AX
	TESTQ AX, AX
	JZ   vf1_tail8

vf1_loop8:
	VMOVDQU32    (R12), Z16
	VPBROADCASTD (R9), Z8
	VPBROADCASTD (R11), Z9
	VPBROADCASTD (R9)(BX*2), Z10
	VPBROADCASTD (R11)(BX*2), Z11
	VPBROADCASTD (R13), Z12
	VPBROADCASTD (DX), Z13
	VPBROADCASTD (R13)(BX*2), Z14
	VPBROADCASTD (DX)(BX*2), Z15
	VPXORD       Z31, Z8, Z8
	VPXORD       Z31, Z9, Z9
	VPXORD       Z31, Z10, Z10
	VPXORD       Z31, Z11, Z11
	VPXORD       Z31, Z12, Z12
	VPXORD       Z31, Z13, Z13
	VPXORD       Z31, Z14, Z14
	VPXORD       Z31, Z15, Z15
	VPDPBUSD     Z16, Z8, Z0
	VPDPBUSD     Z16, Z9, Z1
	VPDPBUSD     Z16, Z10, Z2
	VPDPBUSD     Z16, Z11, Z3
	VPDPBUSD     Z16, Z12, Z4
	VPDPBUSD     Z16, Z13, Z5
	VPDPBUSD     Z16, Z14, Z6
	VPDPBUSD     Z16, Z15, Z7
	ADDQ $4, R9
	ADDQ $4, R11
	ADDQ $4, R13
	ADDQ $4, DX
	ADDQ $64, R12
	DECQ AX
	JNZ  vf1_loop8

vf1_tail8:
	TESTQ R10, R10
	JZ    vf1_store8
	VMOVDQU32    (R12), Z16
	VPBROADCASTD 0(R10), Z8
	VPBROADCASTD 4(R10), Z9
	VPBROADCASTD 8(R10), Z10
	VPBROADCASTD 12(R10), Z11
	VPBROADCASTD 16(R10), Z12
	VPBROADCASTD 20(R10), Z13
	VPBROADCASTD 24(R10), Z14
	VPBROADCASTD 28(R10), Z15
	VPXORD       Z31, Z8, Z8
	VPXORD       Z31, Z9, Z9
	VPXORD       Z31, Z10, Z10
	VPXORD       Z31, Z11, Z11
	VPXORD       Z31, Z12, Z12
	VPXORD       Z31, Z13, Z13
	VPXORD       Z31, Z14, Z14
	VPXORD       Z31, Z15, Z15
	VPDPBUSD     Z16, Z8, Z0
	VPDPBUSD     Z16, Z9, Z1
	VPDPBUSD     Z16, Z10, Z2
	VPDPBUSD     Z16, Z11, Z3
	VPDPBUSD     Z16, Z12, Z4
	VPDPBUSD     Z16, Z13, Z5
	VPDPBUSD     Z16, Z14, Z6
	VPDPBUSD     Z16, Z15, Z7
	ADDQ $32, R10

vf1_store8:
	FEPILOAD(R15)
	FEPI1(Z0)
	FEPI1(Z1)
	FEPI1(Z2)
	FEPI1(Z3)
	FEPI1(Z4)
	FEPI1(Z5)
	FEPI1(Z6)
	FEPI1(Z7)
	LEAQ (SI)(BX*8), SI
	SUBQ $8, CX
	JMP  vf1_block8

vf1_block4:
	CMPQ CX, $4
	JLT  vf1_row1
	VMOVDQA32 Z30, Z0
	VMOVDQA32 Z30, Z1
	VMOVDQA32 Z30, Z2
	VMOVDQA32 Z30, Z3
	MOVQ SI, R9
	LEAQ (SI)(BX*1), R11
	MOVQ R8, R12
	MOVQ groups+32(FP), AX
	TESTQ AX, AX
	JZ   vf1_tail4

vf1_loop4:
	VMOVDQU32    (R12), Z4
	VPBROADCASTD (R9), Z5
	VPBROADCASTD (R11), Z6
	VPBROADCASTD (R9)(BX*2), Z7
	VPBROADCASTD (R11)(BX*2), Z8
	VPXORD       Z31, Z5, Z5
	VPXORD       Z31, Z6, Z6
	VPXORD       Z31, Z7, Z7
	VPXORD       Z31, Z8, Z8
	VPDPBUSD     Z4, Z5, Z0
	VPDPBUSD     Z4, Z6, Z1
	VPDPBUSD     Z4, Z7, Z2
	VPDPBUSD     Z4, Z8, Z3
	ADDQ $4, R9
	ADDQ $4, R11
	ADDQ $64, R12
	DECQ AX
	JNZ  vf1_loop4

vf1_tail4:
	TESTQ R10, R10
	JZ    vf1_store4
	VMOVDQU32    (R12), Z4
	VPBROADCASTD 0(R10), Z5
	VPBROADCASTD 4(R10), Z6
	VPBROADCASTD 8(R10), Z7
	VPBROADCASTD 12(R10), Z8
	VPXORD       Z31, Z5, Z5
	VPXORD       Z31, Z6, Z6
	VPXORD       Z31, Z7, Z7
	VPXORD       Z31, Z8, Z8
	VPDPBUSD     Z4, Z5, Z0
	VPDPBUSD     Z4, Z6, Z1
	VPDPBUSD     Z4, Z7, Z2
	VPDPBUSD     Z4, Z8, Z3
	ADDQ $16, R10

vf1_store4:
	FEPILOAD(R15)
	FEPI1(Z0)
	FEPI1(Z1)
	FEPI1(Z2)
	FEPI1(Z3)
	LEAQ (SI)(BX*4), SI
	SUBQ $4, CX
	JMP  vf1_block4

vf1_row1:
	TESTQ CX, CX
	JZ    vf1_done
	VMOVDQA32 Z30, Z0
	MOVQ SI, R9
	MOVQ R8, R12
	MOVQ groups+32(FP), AX
	TESTQ AX, AX
	JZ   vf1_tail1

vf1_loop1:
	VPBROADCASTD (R9), Z5
	VPXORD       Z31, Z5, Z5
	VPDPBUSD     (R12), Z5, Z0
	ADDQ $4, R9
	ADDQ $64, R12
	DECQ AX
	JNZ  vf1_loop1

vf1_tail1:
	TESTQ R10, R10
	JZ    vf1_store1
	VPBROADCASTD (R10), Z5
	VPXORD       Z31, Z5, Z5
	VPDPBUSD     (R12), Z5, Z0
	ADDQ $4, R10

vf1_store1:
	FEPILOAD(R15)
	FEPI1(Z0)
	ADDQ BX, SI
	DECQ CX
	JMP  vf1_row1

vf1_done:
	VZEROUPPER
	RET

// FEPID is FEPI1 with ldd in R10 (the direct kernel's registers).
#define FEPID(A) \
	FEPI(A) \
	VPMAXSD  Z23, A, A \
	VPMINSD  Z24, A, A \
	VPMOVSDB A, K3, (DI) \
	ADDQ     R10, DI

// func directVNNI512BFused(dst *int8, src *int8, pixStep, rows int, taps *int, ntaps, gpt int, w *int8, init *int32, ldd int, e *epi, mask int)
//
// tileDirectVNNI512B for any number of pixels with the fast epilogue
// fused (init holds the bias too): each pixel's first nj channels (mask =
// 1<<nj - 1) go straight to dst, ldd apart.
TEXT ·directVNNI512BFused(SB), NOSPLIT, $0-96
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ pixStep+16(FP), BX
	MOVQ rows+24(FP), CX
	MOVQ taps+32(FP), R8
	MOVQ w+56(FP), R14
	MOVQ init+64(FP), R9
	MOVL $0x80808080, AX
	VPBROADCASTD AX, Z31
	VMOVDQU32 (R9), Z30
	LEAQ (BX)(BX*2), R13
	MOVQ ldd+72(FP), R10
	MOVQ mask+88(FP), AX
	KMOVW AX, K3
	MOVL $0xAAAA, AX
	KMOVW AX, K2
	MOVQ e+80(FP), AX
	VPBROADCASTD 656(AX), Z23
	VPBROADCASTD 660(AX), Z24

dirf_block8:
	CMPQ CX, $8
	JLT  dirf_row1
	VMOVDQA32 Z30, Z0
	VMOVDQA32 Z30, Z1
	VMOVDQA32 Z30, Z2
	VMOVDQA32 Z30, Z3
	VMOVDQA32 Z30, Z4
	VMOVDQA32 Z30, Z5
	VMOVDQA32 Z30, Z6
	VMOVDQA32 Z30, Z7
	MOVQ R14, R12
	MOVQ R8, R15
	MOVQ ntaps+40(FP), AX

dirf_tap8:
	MOVQ (R15), R9
	ADDQ SI, R9
	LEAQ (R9)(BX*4), R11
	MOVQ gpt+48(FP), DX

dirf_group8:
	VMOVDQU32    (R12), Z16
	VPBROADCASTD (R9), Z8
	VPBROADCASTD (R9)(BX*1), Z9
	VPBROADCASTD (R9)(BX*2), Z10
	VPBROADCASTD (R9)(R13*1), Z11
	VPBROADCASTD (R11), Z12
	VPBROADCASTD (R11)(BX*1), Z13
	VPBROADCASTD (R11)(BX*2), Z14
	VPBROADCASTD (R11)(R13*1), Z15
	VPDPBUSD     Z16, Z8, Z0
	VPDPBUSD     Z16, Z9, Z1
	VPDPBUSD     Z16, Z10, Z2
	VPDPBUSD     Z16, Z11, Z3
	VPDPBUSD     Z16, Z12, Z4
	VPDPBUSD     Z16, Z13, Z5
	VPDPBUSD     Z16, Z14, Z6
	VPDPBUSD     Z16, Z15, Z7
	ADDQ $4, R9
	ADDQ $4, R11
	ADDQ $64, R12
	DECQ DX
	JNZ  dirf_group8
	ADDQ $8, R15
	DECQ AX
	JNZ  dirf_tap8
	MOVQ e+80(FP), AX
	FEPILOAD(AX)
	FEPID(Z0)
	FEPID(Z1)
	FEPID(Z2)
	FEPID(Z3)
	FEPID(Z4)
	FEPID(Z5)
	FEPID(Z6)
	FEPID(Z7)
	LEAQ (SI)(BX*8), SI
	SUBQ $8, CX
	JMP  dirf_block8

dirf_row1:
	TESTQ CX, CX
	JZ    dirf_done
	VMOVDQA32 Z30, Z0
	MOVQ R14, R12
	MOVQ R8, R15
	MOVQ ntaps+40(FP), AX

dirf_tap1:
	MOVQ (R15), R9
	ADDQ SI, R9
	MOVQ gpt+48(FP), DX

dirf_group1:
	VPBROADCASTD (R9), Z5
	VPDPBUSD     (R12), Z5, Z0
	ADDQ $4, R9
	ADDQ $64, R12
	DECQ DX
	JNZ  dirf_group1
	ADDQ $8, R15
	DECQ AX
	JNZ  dirf_tap1
	MOVQ e+80(FP), AX
	FEPILOAD(AX)
	FEPID(Z0)
	ADDQ BX, SI
	DECQ CX
	JMP  dirf_row1

dirf_done:
	VZEROUPPER
	RET

// DWGROUPB is DWGROUP on a biased source (plain loads).
#define DWGROUPB(ta, tb, tc, td, woff) \
	VMOVDQU8   ta, Z4 \
	VMOVDQU8   tb, Z5 \
	VMOVDQU8   tc, Z6 \
	VMOVDQU8   td, Z7 \
	VPUNPCKLBW Z5, Z4, Z8 \
	VPUNPCKHBW Z5, Z4, Z9 \
	VPUNPCKLBW Z7, Z6, Z10 \
	VPUNPCKHBW Z7, Z6, Z11 \
	VPUNPCKLWD Z10, Z8, Z12 \
	VPUNPCKHWD Z10, Z8, Z13 \
	VPUNPCKLWD Z11, Z9, Z14 \
	VPUNPCKHWD Z11, Z9, Z15 \
	VPDPBUSD   woff(R9), Z12, Z0 \
	VPDPBUSD   woff+64(R9), Z13, Z1 \
	VPDPBUSD   woff+128(R9), Z14, Z2 \
	VPDPBUSD   woff+192(R9), Z15, Z3

// DWLD2B is DWLD2 on a biased source.
#define DWLD2B(t, t2, Z, Y) \
	VMOVDQU8     t, Y \
	VINSERTI64X4 $1, t2, Z, Z

// DWGROUP2B is DWGROUP2 on a biased source.
#define DWGROUP2B(ta, ta2, tb, tb2, tc, tc2, td, td2, woff) \
	DWLD2B(ta, ta2, Z4, Y4) \
	DWLD2B(tb, tb2, Z5, Y5) \
	DWLD2B(tc, tc2, Z6, Y6) \
	DWLD2B(td, td2, Z7, Y7) \
	VPUNPCKLBW Z5, Z4, Z8 \
	VPUNPCKHBW Z5, Z4, Z9 \
	VPUNPCKLBW Z7, Z6, Z10 \
	VPUNPCKHBW Z7, Z6, Z11 \
	VPUNPCKLWD Z10, Z8, Z12 \
	VPUNPCKHWD Z10, Z8, Z13 \
	VPUNPCKLWD Z11, Z9, Z14 \
	VPUNPCKHWD Z11, Z9, Z15 \
	VPDPBUSD   woff(R9), Z12, Z0 \
	VPDPBUSD   woff+64(R9), Z13, Z1 \
	VPDPBUSD   woff+128(R9), Z14, Z2 \
	VPDPBUSD   woff+192(R9), Z15, Z3

// func depthwiseVNNI512B(dst, src *int8, n, c, rowStride, srcStep, dstStep int, u *dwUnit)
//
// depthwiseVNNI512 on a biased source.
TEXT ·depthwiseVNNI512B(SB), NOSPLIT, $0-64
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), DX
	MOVQ c+24(FP), CX
	MOVQ rowStride+32(FP), BX
	MOVQ srcStep+40(FP), R12
	MOVQ dstStep+48(FP), R14
	MOVQ u+56(FP), R9
	MOVL $0x80808080, AX
	VPBROADCASTD AX, Z31
	VMOVDQU8     768(R9), Z24
	VMOVDQU8     832(R9), Z25
	VMOVDQU8     896(R9), Z26
	VMOVDQU8     960(R9), Z27
	VPBROADCASTB 2816(R9), Z28
	VPBROADCASTB 2817(R9), Z29
	MOVL         $0xAAAA, AX
	KMOVW        AX, K2

dwvb_unit:
	TESTQ DX, DX
	JZ    dwvb_done
	MOVQ  SI, R10
	LEAQ  (SI)(BX*1), R11
	LEAQ  (R11)(BX*1), R13
	VMOVDQU32 1024(R9), Z0
	VMOVDQU32 1088(R9), Z1
	VMOVDQU32 1152(R9), Z2
	VMOVDQU32 1216(R9), Z3
	DWGROUPB((R10), (R10)(CX*1), (R10)(CX*2), (R11), 0)
	DWGROUPB((R11)(CX*1), (R11)(CX*2), (R13), (R13)(CX*1), 256)
	VMOVDQU8   (R13)(CX*2), Z4
	VPERMB     Z4, Z24, Z12
	VPERMB     Z4, Z25, Z13
	VPERMB     Z4, Z26, Z14
	VPERMB     Z4, Z27, Z15
	VPDPBUSD   512(R9), Z12, Z0
	VPDPBUSD   576(R9), Z13, Z1
	VPDPBUSD   640(R9), Z14, Z2
	VPDPBUSD   704(R9), Z15, Z3
	DWEPI(Z0, 0)
	DWEPI(Z1, 1)
	DWEPI(Z2, 2)
	DWEPI(Z3, 3)
	VPACKSSDW Z1, Z0, Z0
	VPACKSSDW Z3, Z2, Z2
	VPACKSSWB Z2, Z0, Z0
	VPMAXSB   Z28, Z0, Z0
	VPMINSB   Z29, Z0, Z0
	VMOVDQU8  Z0, (DI)
	ADDQ R14, DI
	ADDQ R12, SI
	DECQ DX
	JMP  dwvb_unit

dwvb_done:
	VZEROUPPER
	RET

// func depthwiseVNNI512S2B(dst, src *int8, n, c, rowStride, srcStep, dstStep int, u *dwUnit)
//
// depthwiseVNNI512S2 on a biased source.
TEXT ·depthwiseVNNI512S2B(SB), NOSPLIT, $0-64
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), DX
	MOVQ c+24(FP), CX
	MOVQ rowStride+32(FP), BX
	MOVQ srcStep+40(FP), R12
	MOVQ dstStep+48(FP), R14
	MOVQ u+56(FP), R9
	MOVL $0x80808080, AX
	VPBROADCASTD AX, Z31
	VMOVDQU8     768(R9), Z24
	VMOVDQU8     832(R9), Z25
	VMOVDQU8     896(R9), Z26
	VMOVDQU8     960(R9), Z27
	VPBROADCASTB 2816(R9), Z28
	VPBROADCASTB 2817(R9), Z29
	MOVL         $0xAAAA, AX
	KMOVW        AX, K2

dws2b_unit:
	TESTQ DX, DX
	JZ    dws2b_done
	MOVQ  SI, R10
	LEAQ  (SI)(BX*1), R11
	LEAQ  (R11)(BX*1), R13
	VMOVDQU32 1024(R9), Z0
	VMOVDQU32 1088(R9), Z1
	VMOVDQU32 1152(R9), Z2
	VMOVDQU32 1216(R9), Z3
	DWGROUP2B((R10), 64(R10), 32(R10), 96(R10), 64(R10), 128(R10), (R11), 64(R11), 0)
	DWGROUP2B(32(R11), 96(R11), 64(R11), 128(R11), (R13), 64(R13), 32(R13), 96(R13), 256)
	DWLD2B(64(R13), 128(R13), Z4, Y4)
	VPERMB     Z4, Z24, Z12
	VPERMB     Z4, Z25, Z13
	VPERMB     Z4, Z26, Z14
	VPERMB     Z4, Z27, Z15
	VPDPBUSD   512(R9), Z12, Z0
	VPDPBUSD   576(R9), Z13, Z1
	VPDPBUSD   640(R9), Z14, Z2
	VPDPBUSD   704(R9), Z15, Z3
	DWEPI(Z0, 0)
	DWEPI(Z1, 1)
	DWEPI(Z2, 2)
	DWEPI(Z3, 3)
	VPACKSSDW Z1, Z0, Z0
	VPACKSSDW Z3, Z2, Z2
	VPACKSSWB Z2, Z0, Z0
	VPMAXSB   Z28, Z0, Z0
	VPMINSB   Z29, Z0, Z0
	VMOVDQU8  Z0, (DI)
	ADDQ R14, DI
	ADDQ R12, SI
	DECQ DX
	JMP  dws2b_unit

dws2b_done:
	VZEROUPPER
	RET

// ADD16E is ADD16 with input A's rescale a shift (addAVX512E).
#define ADD16E(off, OUT) \
	VPMOVSXBD off(SI), Z0 \
	VPSUBD    Z16, Z0, Z0 \
	VPSLLD    $19, Z0, Z0 \
	VPMOVSXBD off(DX), Z1 \
	VPSUBD    Z17, Z1, Z1 \
	VPSLLD    X13, Z1, Z1 \
	REQU(Z1, Z19, Z22, X26, X27) \
	VPADDD    Z1, Z0, OUT \
	REQU(OUT, Z20, Z23, X28, X29)

// func addAVX512E(dst, a, b *int8, n int, f *addFast)
//
// addAVX512 with input A rescaled by (a-zpA) << 19 (its multiplier is 1/2,
// shift 0: Requantize((a-zpA) << 20, 1<<30, 0) is exactly that).
//
// (addAVX512:)
//
// n (a multiple of 64) elements of AddInt8, every requantization through
// the fast epilogue; four blocks of 16 are narrowed by VPACKSSDW and
// VPACKSSWB, put back in order by VPERMB and clamped as bytes.
TEXT ·addAVX512E(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ n+24(FP), CX
	MOVQ f+32(FP), R8
	VPBROADCASTD 0(R8), Z16
	VPBROADCASTD 4(R8), Z17
	VPBROADCASTD 8(R8), Z18
	VPBROADCASTD 12(R8), Z19
	VPBROADCASTD 16(R8), Z20
	VPBROADCASTB 20(R8), Z30
	VPBROADCASTB 21(R8), Z31
	VPBROADCASTQ 24(R8), Z21
	VPBROADCASTQ 32(R8), Z22
	VPBROADCASTQ 40(R8), Z23
	VMOVQ        48(R8), X24
	VMOVQ        56(R8), X25
	VMOVQ        64(R8), X26
	VMOVQ        72(R8), X27
	VMOVQ        80(R8), X28
	VMOVQ        88(R8), X29
	VMOVQ        96(R8), X12
	VMOVQ        104(R8), X13
	VMOVDQU8     ·addPerm(SB), Z15
	MOVL         $0xAAAA, AX
	KMOVW        AX, K2

add512e_loop:
	TESTQ CX, CX
	JZ    add512e_done
	ADD16E(0, Z6)
	ADD16E(16, Z7)
	ADD16E(32, Z8)
	ADD16E(48, Z9)
	VPACKSSDW Z7, Z6, Z6
	VPACKSSDW Z9, Z8, Z8
	VPACKSSWB Z8, Z6, Z6
	VPERMB    Z6, Z15, Z6
	VPMAXSB   Z30, Z6, Z6
	VPMINSB   Z31, Z6, Z6
	VMOVDQU8  Z6, (DI)
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $64, DI
	SUBQ $64, CX
	JMP  add512e_loop

add512e_done:
	VZEROUPPER
	RET
