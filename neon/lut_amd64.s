//go:build !purego

#include "textflag.h"

// func lookupAVX512VBMI(dst, src *int8, n int, lut *[256]int8)
// n is a multiple of 64. The table lives in Z0..Z3 (64 entries each);
// VPERMI2B looks 64 indices up in a pair of them by their low 7 bits, so
// one lookup in (Z0, Z1) and one in (Z2, Z3), merged by bit 7 of each index.
TEXT ·lookupAVX512VBMI(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	MOVQ lut+24(FP), AX
	VMOVDQU64 (AX), Z0
	VMOVDQU64 64(AX), Z1
	VMOVDQU64 128(AX), Z2
	VMOVDQU64 192(AX), Z3
	XORQ DX, DX

loop:
	CMPQ DX, CX
	JGE  done
	VMOVDQU64 (SI)(DX*1), Z4
	VPMOVB2M  Z4, K1            // bit 7: upper half of the table
	VMOVDQA64 Z4, Z5
	VPERMI2B  Z1, Z0, Z4        // Z4 = lut[idx&127]
	VPERMI2B  Z3, Z2, Z5        // Z5 = lut[128 + idx&127]
	VMOVDQU8  Z5, K1, Z4
	VMOVDQU64 Z4, (DI)(DX*1)
	ADDQ      $64, DX
	JMP       loop

done:
	VZEROUPPER
	RET
