// Package face turns detected faces into identities: it aligns a face to a
// canonical chip from five landmarks, scores its quality, embeds it with a
// CNN on the infer engine, matches the embedding against an enrolled
// gallery, adapts the embedding with a triplet-loss projection head, and
// evaluates verification and identification on folders of photographs.
//
// Invariants:
//   - Embeddings are L2-normalised float32 vectors. Distances are cosine
//     distances, d = 1 - cos(a, b) = |a-b|²/2 for unit vectors, in [0, 2];
//     smaller is more alike. Thresholds are stated in that unit.
//   - Landmarks are five points in image pixels, in the order of the
//     Landmarks constants: the eye on the image's left, the eye on the
//     image's right, the nose tip, the mouth corner on the image's left and
//     the one on its right (the MTCNN/RetinaFace order).
//   - A Gallery on disk only ever holds a complete, checksummed file: every
//     write replaces it atomically, and a file that fails its checks is
//     refused, never repaired or overwritten.
//   - The package is plain Go: no gocv, no cgo; it runs under qemu.
package face
