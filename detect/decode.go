package detect

import "math"

// ApplyOffsets refines a box with MTCNN-style regression offsets: each corner
// moves by its offset times the box size,
// x1' = x1 + dx1*w, y1' = y1 + dy1*h, x2' = x2 + dx2*w, y2' = y2 + dy2*h.
func ApplyOffsets(b Box, dx1, dy1, dx2, dy2 float32) Box {
	return BoxFromCorners(b.X+dx1*b.W, b.Y+dy1*b.H, b.X2()+dx2*b.W, b.Y2()+dy2*b.H)
}

// Prior is an anchor in centre-size form, in whatever unit the decoder uses
// (normalised [0,1] for SSD-style heads, pixels for BlazeFace).
type Prior struct {
	CX, CY, W, H float32
}

// Variances scale SSD regression outputs: centre offsets by Center, log sizes by Size.
type Variances struct{ Center, Size float32 }

// DecodeCenterSize decodes an SSD/UltraFace regression (dx, dy, dw, dh)
// against prior p: cx = p.CX + dx*v.Center*p.W, w = p.W*exp(dw*v.Size).
// Zero variances mean 1 (no scaling).
func DecodeCenterSize(p Prior, dx, dy, dw, dh float32, v Variances) Box {
	vc, vs := v.Center, v.Size
	if vc == 0 {
		vc = 1
	}
	if vs == 0 {
		vs = 1
	}
	cx := p.CX + dx*vc*p.W
	cy := p.CY + dy*vc*p.H
	w := p.W * expClamp(dw*vs)
	h := p.H * expClamp(dh*vs)
	return BoxFromCenter(cx, cy, w, h)
}

// DecodeYOLO decodes a YOLOv2 cell prediction (tx, ty, tw, th) at grid cell
// (col, row) of a grid of gw x gh cells with anchor (aw, ah) in cell units.
// The box is in grid units; multiply by the cell size for pixels.
func DecodeYOLO(col, row int, tx, ty, tw, th, aw, ah float32) Box {
	cx := float32(col) + Sigmoid(tx)
	cy := float32(row) + Sigmoid(ty)
	return BoxFromCenter(cx, cy, aw*expClamp(tw), ah*expClamp(th))
}

// expClamp is exp with its argument clamped so a wild regression cannot
// overflow to Inf (e^20 is already 5e8 times the prior).
func expClamp(x float32) float32 {
	return float32(math.Exp(float64(min(max(x, -20), 20))))
}
