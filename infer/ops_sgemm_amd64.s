//go:build !purego

#include "textflag.h"

// func sgemm8x4FMA(kc int, a *float32, lda int, b *float32, c *float32, ldc int)
// C[r][j] += sum_k A[r*lda+k] * B[k*4+j] for r < 8, j < 4, with FMA3 on XMM:
// each row's accumulator is one XMM of 4 columns, A broadcast per k.
TEXT ·sgemm8x4FMA(SB), NOSPLIT, $0-48
	MOVQ kc+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ lda+16(FP), DX
	SHLQ $2, DX
	MOVQ b+24(FP), DI
	LEAQ (SI)(DX*1), R8
	LEAQ (SI)(DX*2), R9
	LEAQ (R8)(DX*2), R10
	LEAQ (SI)(DX*4), R11
	LEAQ (R8)(DX*4), R12
	LEAQ (R9)(DX*4), R13
	LEAQ (R10)(DX*4), BX
	VXORPS X0, X0, X0
	VXORPS X1, X1, X1
	VXORPS X2, X2, X2
	VXORPS X3, X3, X3
	VXORPS X4, X4, X4
	VXORPS X5, X5, X5
	VXORPS X6, X6, X6
	VXORPS X7, X7, X7
	XORQ AX, AX
	TESTQ CX, CX
	JZ   store8

loop8:
	VMOVUPS      (DI), X8
	VBROADCASTSS (SI)(AX*1), X9
	VFMADD231PS  X8, X9, X0
	VBROADCASTSS (R8)(AX*1), X10
	VFMADD231PS  X8, X10, X1
	VBROADCASTSS (R9)(AX*1), X11
	VFMADD231PS  X8, X11, X2
	VBROADCASTSS (R10)(AX*1), X12
	VFMADD231PS  X8, X12, X3
	VBROADCASTSS (R11)(AX*1), X9
	VFMADD231PS  X8, X9, X4
	VBROADCASTSS (R12)(AX*1), X10
	VFMADD231PS  X8, X10, X5
	VBROADCASTSS (R13)(AX*1), X11
	VFMADD231PS  X8, X11, X6
	VBROADCASTSS (BX)(AX*1), X12
	VFMADD231PS  X8, X12, X7
	ADDQ $4, AX
	ADDQ $16, DI
	DECQ CX
	JNZ  loop8

store8:
	MOVQ c+32(FP), DX
	MOVQ ldc+40(FP), R8
	SHLQ $2, R8
	VADDPS  (DX), X0, X0
	VMOVUPS X0, (DX)
	ADDQ    R8, DX
	VADDPS  (DX), X1, X1
	VMOVUPS X1, (DX)
	ADDQ    R8, DX
	VADDPS  (DX), X2, X2
	VMOVUPS X2, (DX)
	ADDQ    R8, DX
	VADDPS  (DX), X3, X3
	VMOVUPS X3, (DX)
	ADDQ    R8, DX
	VADDPS  (DX), X4, X4
	VMOVUPS X4, (DX)
	ADDQ    R8, DX
	VADDPS  (DX), X5, X5
	VMOVUPS X5, (DX)
	ADDQ    R8, DX
	VADDPS  (DX), X6, X6
	VMOVUPS X6, (DX)
	ADDQ    R8, DX
	VADDPS  (DX), X7, X7
	VMOVUPS X7, (DX)
	RET

// func sgemm1x4FMA(kc int, a *float32, b *float32, c *float32)
// One row of sgemm8x4FMA, with the same arithmetic (so results do not
// depend on how rows are grouped).
TEXT ·sgemm1x4FMA(SB), NOSPLIT, $0-32
	MOVQ kc+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	VXORPS X0, X0, X0
	XORQ AX, AX
	TESTQ CX, CX
	JZ   store1

loop1:
	VMOVUPS      (DI), X8
	VBROADCASTSS (SI)(AX*1), X9
	VFMADD231PS  X8, X9, X0
	ADDQ $4, AX
	ADDQ $16, DI
	DECQ CX
	JNZ  loop1

store1:
	MOVQ    c+24(FP), DX
	VADDPS  (DX), X0, X0
	VMOVUPS X0, (DX)
	RET


// func sgemm8x8FMA(kc int, a *float32, lda int, b *float32, bstride int, c *float32, ldc int)
// Two adjacent panels (8 columns) at once on YMM: b points at the first
// panel's row k0, the second panel is bstride floats further. Per element
// the arithmetic is sgemm8x4FMA's, so results do not depend on which kernel
// covered a column.
TEXT ·sgemm8x8FMA(SB), NOSPLIT, $0-56
	MOVQ kc+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ lda+16(FP), DX
	SHLQ $2, DX
	MOVQ b+24(FP), DI
	LEAQ (SI)(DX*1), R8
	LEAQ (SI)(DX*2), R9
	LEAQ (R8)(DX*2), R10
	LEAQ (SI)(DX*4), R11
	LEAQ (R8)(DX*4), R12
	LEAQ (R9)(DX*4), R13
	LEAQ (R10)(DX*4), BX
	MOVQ bstride+32(FP), DX
	SHLQ $2, DX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	XORQ AX, AX
	TESTQ CX, CX
	JZ   store88

loop88:
	VMOVUPS      (DI), X8
	VINSERTF128  $1, (DI)(DX*1), Y8, Y8
	VBROADCASTSS (SI)(AX*1), Y9
	VFMADD231PS  Y8, Y9, Y0
	VBROADCASTSS (R8)(AX*1), Y10
	VFMADD231PS  Y8, Y10, Y1
	VBROADCASTSS (R9)(AX*1), Y11
	VFMADD231PS  Y8, Y11, Y2
	VBROADCASTSS (R10)(AX*1), Y12
	VFMADD231PS  Y8, Y12, Y3
	VBROADCASTSS (R11)(AX*1), Y9
	VFMADD231PS  Y8, Y9, Y4
	VBROADCASTSS (R12)(AX*1), Y10
	VFMADD231PS  Y8, Y10, Y5
	VBROADCASTSS (R13)(AX*1), Y11
	VFMADD231PS  Y8, Y11, Y6
	VBROADCASTSS (BX)(AX*1), Y12
	VFMADD231PS  Y8, Y12, Y7
	ADDQ $4, AX
	ADDQ $16, DI
	DECQ CX
	JNZ  loop88

store88:
	MOVQ c+40(FP), DX
	MOVQ ldc+48(FP), R8
	SHLQ $2, R8
	VADDPS  (DX), Y0, Y0
	VMOVUPS Y0, (DX)
	ADDQ    R8, DX
	VADDPS  (DX), Y1, Y1
	VMOVUPS Y1, (DX)
	ADDQ    R8, DX
	VADDPS  (DX), Y2, Y2
	VMOVUPS Y2, (DX)
	ADDQ    R8, DX
	VADDPS  (DX), Y3, Y3
	VMOVUPS Y3, (DX)
	ADDQ    R8, DX
	VADDPS  (DX), Y4, Y4
	VMOVUPS Y4, (DX)
	ADDQ    R8, DX
	VADDPS  (DX), Y5, Y5
	VMOVUPS Y5, (DX)
	ADDQ    R8, DX
	VADDPS  (DX), Y6, Y6
	VMOVUPS Y6, (DX)
	ADDQ    R8, DX
	VADDPS  (DX), Y7, Y7
	VMOVUPS Y7, (DX)
	VZEROUPPER
	RET
