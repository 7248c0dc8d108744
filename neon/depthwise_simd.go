//go:build (amd64 || arm64) && !purego

package neon

// archDepthwise computes channels [0, c&^15) of every output pixel in
// assembly and returns c&^15; the caller does the remaining channels.
// Border pixels go through the same kernel on a 3x3x16 copy of their
// window with the padding filled in.
// With prep, the wide kernel reads its prepared weights; biased (which
// prep.biased allowed) means src holds activations XOR 0x80 and the wide
// kernel does every pixel.
func archDepthwise(dst, src []int8, h, w, c, stride, padTop, padLeft, outH, outW int, padValue int8, wts []int8, q *Requant, prep *dwPrepared, biased bool) int {
	c16 := c &^ 15
	if c16 == 0 || outH == 0 || outW == 0 {
		return c16
	}
	oyA, oyB := interiorRange(h, stride, padTop, outH)
	oxA, oxB := interiorRange(w, stride, padLeft, outW)
	// The first pixels of every interior run may be done already, for all
	// channels, by a wider kernel: [oxA, oxW).
	oxW := oxA + archDepthwiseWide(dst, src, w, c, stride, padTop, padLeft, outW, oyA, oyB, oxA, oxB, wts, q, prep, biased)
	if biased && (oxW != oxB || oyA != 0 || oyB != outH || oxA != 0 || oxB != outW) {
		panic("neon: biased depthwise source not done whole by the wide kernel") // prep.biased guarantees it
	}
	if oxW > oxA && oxW == oxB && oyA == 0 && oyB == outH && oxA == 0 && oxB == outW {
		return c16 // every pixel was interior and is done (pre-padded input)
	}
	if oxW > oxA && archDepthwiseBorders(dst, src, h, w, c, stride, padTop, padLeft, outH, outW, padValue, prep, oyA, oyB, oxA, oxW) {
		return c16 // the border pixels too, through the wide kernel on padded strips
	}
	var k dwBlock
	var win [9 * 16]int8
	for cb := 0; cb < c16; cb += 16 {
		k.set(q, wts, c, cb)
		for oy := 0; oy < outH; oy++ {
			interiorRow := oy >= oyA && oy < oyB
			for ox := 0; ox < outW; ox++ {
				if interiorRow && ox == oxA && oxA < oxB {
					ox = oxB - 1
					if oxW == oxB {
						continue
					}
					so := ((oy*stride-padTop)*w+oxW*stride-padLeft)*c + cb
					do := (oy*outW+oxW)*c + cb
					n := oxB - oxW
					_ = src[so+((n-1)*stride+2)*c+2*w*c+15]
					_ = dst[do+(n-1)*c+15]
					dwKernel(&dst[do], &src[so], n, c, w*c, stride*c, &k)
					continue
				}
				iy0, ix0 := oy*stride-padTop, ox*stride-padLeft
				for t := 0; t < 9; t++ {
					iy, ix := iy0+t/3, ix0+t%3
					tap := win[t*16 : t*16+16]
					if iy >= 0 && iy < h && ix >= 0 && ix < w {
						copy(tap, src[(iy*w+ix)*c+cb:])
					} else {
						for i := range tap {
							tap[i] = padValue
						}
					}
				}
				do := (oy*outW+ox)*c + cb
				_ = dst[do+15]
				dwKernel(&dst[do], &win[0], 1, 16, 48, 0, &k)
			}
		}
	}
	return c16
}
