//go:build !purego

#include "textflag.h"

// func sgemm8x4FMA(kc int, a *float32, lda int, b *float32, c *float32, ldc int)
// C[r][j] += sum_k A[r*lda+k] * B[k*4+j] for r < 8, j < 4 with NEON FMLA:
// each row of C is loaded into one V register, A replicated per k and
// fused-multiply-added in k order.
TEXT ·sgemm8x4FMA(SB), NOSPLIT, $0-48
	MOVD kc+0(FP), R0
	MOVD a+8(FP), R1
	MOVD lda+16(FP), R2
	LSL  $2, R2, R2
	MOVD b+24(FP), R3
	ADD  R2, R1, R4
	ADD  R2, R4, R5
	ADD  R2, R5, R6
	ADD  R2, R6, R7
	ADD  R2, R7, R8
	ADD  R2, R8, R9
	ADD  R2, R9, R10
	MOVD c+32(FP), R11
	MOVD ldc+40(FP), R12
	LSL  $2, R12, R12
	VLD1 (R11), [V0.S4]
	ADD  R12, R11, R11
	VLD1 (R11), [V1.S4]
	ADD  R12, R11, R11
	VLD1 (R11), [V2.S4]
	ADD  R12, R11, R11
	VLD1 (R11), [V3.S4]
	ADD  R12, R11, R11
	VLD1 (R11), [V4.S4]
	ADD  R12, R11, R11
	VLD1 (R11), [V5.S4]
	ADD  R12, R11, R11
	VLD1 (R11), [V6.S4]
	ADD  R12, R11, R11
	VLD1 (R11), [V7.S4]
	CBZ  R0, store8

loop8:
	VLD1.P  16(R3), [V8.S4]
	VLD1R.P 4(R1), [V16.S4]
	VLD1R.P 4(R4), [V17.S4]
	VLD1R.P 4(R5), [V18.S4]
	VLD1R.P 4(R6), [V19.S4]
	VLD1R.P 4(R7), [V20.S4]
	VLD1R.P 4(R8), [V21.S4]
	VLD1R.P 4(R9), [V22.S4]
	VLD1R.P 4(R10), [V23.S4]
	VFMLA   V8.S4, V16.S4, V0.S4
	VFMLA   V8.S4, V17.S4, V1.S4
	VFMLA   V8.S4, V18.S4, V2.S4
	VFMLA   V8.S4, V19.S4, V3.S4
	VFMLA   V8.S4, V20.S4, V4.S4
	VFMLA   V8.S4, V21.S4, V5.S4
	VFMLA   V8.S4, V22.S4, V6.S4
	VFMLA   V8.S4, V23.S4, V7.S4
	SUBS    $1, R0, R0
	BNE     loop8

store8:
	MOVD c+32(FP), R11
	VST1 [V0.S4], (R11)
	ADD  R12, R11, R11
	VST1 [V1.S4], (R11)
	ADD  R12, R11, R11
	VST1 [V2.S4], (R11)
	ADD  R12, R11, R11
	VST1 [V3.S4], (R11)
	ADD  R12, R11, R11
	VST1 [V4.S4], (R11)
	ADD  R12, R11, R11
	VST1 [V5.S4], (R11)
	ADD  R12, R11, R11
	VST1 [V6.S4], (R11)
	ADD  R12, R11, R11
	VST1 [V7.S4], (R11)
	RET

// func sgemm1x4FMA(kc int, a *float32, b *float32, c *float32)
TEXT ·sgemm1x4FMA(SB), NOSPLIT, $0-32
	MOVD kc+0(FP), R0
	MOVD a+8(FP), R1
	MOVD b+16(FP), R3
	MOVD c+24(FP), R11
	VLD1 (R11), [V0.S4]
	CBZ  R0, store1

loop1:
	VLD1.P  16(R3), [V8.S4]
	VLD1R.P 4(R1), [V16.S4]
	VFMLA   V8.S4, V16.S4, V0.S4
	SUBS    $1, R0, R0
	BNE     loop1

store1:
	VST1 [V0.S4], (R11)
	RET
