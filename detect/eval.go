package detect

import (
	"fmt"
	"slices"
)

// Result is a detector's score on a dataset at one IoU threshold.
type Result struct {
	Images    int     `json:"images"`
	Faces     int     `json:"faces"` // labelled, non-ignored boxes
	TP        int     `json:"tp"`
	FP        int     `json:"fp"`
	FN        int     `json:"fn"`
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	AP        float64 `json:"ap"` // VOC all-point interpolated average precision
	Detector  string  `json:"detector"`
	IoU       float64 `json:"iou"`
	// NegativeFP counts the false positives on images listed with no boxes at
	// all (they are included in FP too).
	NegativeFP int `json:"negative_fp"`
}

func (r Result) String() string {
	return fmt.Sprintf("detector %s, IoU %.2f: %d images, %d faces: tp %d, fp %d, fn %d, precision %.4f, recall %.4f, AP %.4f, false positives on images without faces %d",
		r.Detector, r.IoU, r.Images, r.Faces, r.TP, r.FP, r.FN, r.Precision, r.Recall, r.AP, r.NegativeFP)
}

// Evaluate matches detections to the labelled boxes of ds at the IoU
// threshold, VOC style: over all images, detections are taken by descending
// score; each matches the labelled box it overlaps most (IoU >= iou); a
// detection on an unmatched face is a true positive, one on an already
// matched face or on nothing is a false positive, and one whose best overlap
// is an ignored box counts as neither. dets[i] are the detections for
// ds.Images[i]. AP is the area under the precision/recall curve of that score
// sweep with precision made monotone (all-point interpolation, VOC 2010+).
func Evaluate(ds *Dataset, dets [][]Detection, iou float64) (Result, error) {
	if len(dets) != len(ds.Images) {
		return Result{}, fmt.Errorf("evaluate: %d detection lists for %d images", len(dets), len(ds.Images))
	}
	r := Result{Images: len(ds.Images), Faces: ds.Faces(), IoU: iou}
	type ref struct {
		img, det int
		score    float32
	}
	var all []ref
	for i, ds := range dets {
		for j, d := range ds {
			all = append(all, ref{i, j, d.Score})
		}
	}
	slices.SortStableFunc(all, func(a, b ref) int {
		switch {
		case a.score > b.score:
			return -1
		case a.score < b.score:
			return 1
		}
		return 0
	})
	matched := make([][]bool, len(ds.Images))
	for i, im := range ds.Images {
		matched[i] = make([]bool, len(im.Boxes))
	}
	// The outcome of each detection in score order: +1 TP, -1 FP, 0 ignored.
	outcome := make([]int8, 0, len(all))
	for _, a := range all {
		im := ds.Images[a.img]
		b := dets[a.img][a.det].Box
		best, bestIoU := -1, float32(0)
		for k, g := range im.Boxes {
			if v := IoU(b, g); v > bestIoU {
				best, bestIoU = k, v
			}
		}
		ignored := false
		for _, g := range im.Ignore {
			if v := IoU(b, g); v > bestIoU && float64(v) >= iou {
				ignored = true
				bestIoU = v
			}
		}
		switch {
		case ignored:
			outcome = append(outcome, 0)
		case best >= 0 && float64(bestIoU) >= iou && !matched[a.img][best]:
			matched[a.img][best] = true
			outcome = append(outcome, 1)
			r.TP++
		default:
			outcome = append(outcome, -1)
			r.FP++
			if len(im.Boxes) == 0 && len(im.Ignore) == 0 {
				r.NegativeFP++
			}
		}
	}
	r.FN = r.Faces - r.TP
	if r.TP+r.FP > 0 {
		r.Precision = float64(r.TP) / float64(r.TP+r.FP)
	}
	if r.Faces > 0 {
		r.Recall = float64(r.TP) / float64(r.Faces)
	}
	r.AP = averagePrecision(outcome, r.Faces)
	return r, nil
}

// averagePrecision is the VOC all-point interpolated AP of a ranked list of
// outcomes (+1 TP, -1 FP, 0 skipped) against n positives.
func averagePrecision(outcome []int8, n int) float64 {
	if n == 0 {
		return 0
	}
	var rec, prec []float64
	tp, fp := 0, 0
	for _, o := range outcome {
		switch o {
		case 1:
			tp++
		case -1:
			fp++
		default:
			continue
		}
		rec = append(rec, float64(tp)/float64(n))
		prec = append(prec, float64(tp)/float64(tp+fp))
	}
	// Make precision monotone decreasing from the right, then sum the
	// rectangles where recall steps.
	for i := len(prec) - 2; i >= 0; i-- {
		prec[i] = max(prec[i], prec[i+1])
	}
	ap, prevRec := 0.0, 0.0
	for i := range rec {
		if rec[i] > prevRec {
			ap += (rec[i] - prevRec) * prec[i]
			prevRec = rec[i]
		}
	}
	return ap
}
