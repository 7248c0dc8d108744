// Package capture reads frames from cameras, video files, network streams and folders of
// images with gocv, and decides with a motion gate which of them are worth running the face
// detector on.
//
// # Frames and ownership
//
// A Source runs one goroutine that reads the source into Mats it owns and reuses (one frame
// Mat, one conversion Mat, the gate's Mats; temporaries are closed in the iteration that made
// them). Each frame is converted once to an infer.Image (8-bit RGB, interleaved, stride 3*W)
// in one of three Go buffers that rotate between the reader, a one-slot mailbox and the
// consumer, so the steady state allocates nothing and no Mat crosses a goroutine. Callers of
// Next never see a Mat and never close anything; the Image in a Frame is valid until the next
// call to Next.
//
// # Newest frame wins
//
// The mailbox holds one frame. When the reader has a new frame and the consumer has not taken
// the previous one, the previous one is dropped and counted (Health.Dropped), so the detector
// always works on the newest picture and never lags behind reality. Motion seen on a dropped
// frame is carried over to the frame that replaces it, so no motion is lost with the frame.
// For tests and offline replays, Config.Unpaced turns this off: no pacing, no drops, the
// reader waits for the consumer.
//
// # Failures
//
// A source that does not open, returns empty frames, or stops delivering (its backend's read
// times out) is closed and reopened with exponential backoff between Config.MinBackoff and
// Config.MaxBackoff; Health reports the state, the failures and the last error. A Source never
// gives up on a camera or stream. The end of a file or folder ends the stream (Next returns
// io.EOF) unless Config.Loop starts it again.
package capture
