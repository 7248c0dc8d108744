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
//
// Gallery file (DIR/gallery.vgf, mode 0600 in a 0700 directory), version 1:
//
//	"VIGILGAL" | version uint32 LE | payload length uint64 LE | JSON payload | SHA-256 of all before
//
// The payload is a Snapshot: model (embedding space), dim, identities sorted
// by name, each with samples (id, L2-normalised embedding, optional JPEG
// chip, source, time added), the optional projection head, a generation
// counter and the next sample id. A write goes to a temporary file in DIR,
// is fsynced, renamed over gallery.vgf and the directory is fsynced;
// writers hold an flock on DIR/.lock and start from the file on disk, so
// several processes may enrol at once without losing each other's work.
package face
