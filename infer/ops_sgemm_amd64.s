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
