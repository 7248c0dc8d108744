//go:build !purego

#include "textflag.h"

// func quantizeAVX512(dst *int8, src *float32, n int, inv float64, zp int32) int
// Per 8 floats: t = float64(x)*inv, clamped to [-1024, 1024] (beyond, the
// result saturates either way); r = trunc(t); the rounding step is
// trunc(2*(t-r)) (t-r is exact); q = sat8(r + step + zp).
TEXT ·quantizeAVX512(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSD inv+24(FP), Z0
	MOVL zp+32(FP), AX
	VPBROADCASTD AX, Z1
	MOVQ $0x4090000000000000, AX // 1024.0
	VPBROADCASTQ AX, Z2
	MOVQ $0xC090000000000000, AX // -1024.0
	VPBROADCASTQ AX, Z3
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
	VMAXPD    Z3, Z4, Z4
	VMAXPD    Z3, Z5, Z5
	VMINPD    Z2, Z4, Z4
	VMINPD    Z2, Z5, Z5
	VRNDSCALEPD $11, Z4, Z6 // truncate, no precision exception
	VRNDSCALEPD $11, Z5, Z7
	VSUBPD    Z6, Z4, Z4 // t - trunc(t), exact
	VSUBPD    Z7, Z5, Z5
	VADDPD    Z4, Z4, Z4
	VADDPD    Z5, Z5, Z5
	VCVTTPD2DQ Z6, Y6
	VCVTTPD2DQ Z7, Y7
	VCVTTPD2DQ Z4, Y4
	VCVTTPD2DQ Z5, Y5
	VINSERTI64X4 $1, Y7, Z6, Z6
	VINSERTI64X4 $1, Y5, Z4, Z4
	VPADDD    Z4, Z6, Z6
	VPADDD    Z1, Z6, Z6
	VPMOVSDB  Z6, X6
	VMOVDQU   X6, (DI)(DX*1)
	ADDQ      $16, DX
	JMP       loop

done:
	VZEROUPPER
	MOVQ DX, ret+40(FP)
	RET
