//go:build !purego

#include "textflag.h"

// func quantizeAVX512(dst *int8, src *float32, n int, inv float64, zp int32) int
// Per 8 floats: t = float64(x)*inv, clamped to [-1024, 1024] by VRANGEPD
// (beyond, the result saturates either way; a block with a NaN goes to the
// caller's Go loop); q = sat8(trunc(t + copysign(h, t)) + zp)
// with h = 0.49999999999999994, the largest double below 1/2: that is
// round half away from zero, exactly, for |t| <= 2^52. (|t|+h is exact or
// rounds within its binade without reaching the next integer, except for
// ties k+1/2, which it rounds up to k+1 as wanted; adding 1/2 instead
// would round t = h itself up to 1.)
TEXT ·quantizeAVX512(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSD inv+24(FP), Z0
	MOVL zp+32(FP), AX
	VPBROADCASTD AX, Z1
	MOVQ $0x4090000000000000, AX // 1024.0
	VPBROADCASTQ AX, Z2
	MOVQ $0x3FDFFFFFFFFFFFFF, AX // 0.49999999999999994
	VPBROADCASTQ AX, Z8
	MOVQ $0x8000000000000000, AX // sign bit
	VPBROADCASTQ AX, Z9
	XORQ DX, DX

loop:
	CMPQ DX, CX
	JGE  done
	VCVTPS2PD (SI)(DX*4), Z4
	VCVTPS2PD 32(SI)(DX*4), Z5
	VMULPD    Z0, Z4, Z4
	VMULPD    Z0, Z5, Z5
	VCMPPD    $3, Z4, Z4, K1 // unordered: NaN
	VCMPPD    $3, Z5, Z5, K2
	KORW      K1, K2, K1
	KORTESTW  K1, K1
	JNZ       done
	VRANGEPD  $2, Z2, Z4, Z4 // the smaller magnitude of t and 1024, with t's sign
	VRANGEPD  $2, Z2, Z5, Z5
	VMOVDQA64 Z8, Z6
	VMOVDQA64 Z8, Z7
	VPTERNLOGQ $0xF8, Z9, Z4, Z6 // h | (t & sign)
	VPTERNLOGQ $0xF8, Z9, Z5, Z7
	VADDPD    Z6, Z4, Z4
	VADDPD    Z7, Z5, Z5
	VCVTTPD2DQ Z4, Y4
	VCVTTPD2DQ Z5, Y5
	VINSERTI64X4 $1, Y5, Z4, Z4
	VPADDD    Z1, Z4, Z4
	VPMOVSDB  Z4, X4
	VMOVDQU   X4, (DI)(DX*1)
	ADDQ      $16, DX
	JMP       loop

done:
	VZEROUPPER
	MOVQ DX, ret+40(FP)
	RET
