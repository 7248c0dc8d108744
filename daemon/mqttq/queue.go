// Package mqttq is a bounded, crash-safe, on-disk FIFO of events waiting for the MQTT broker.
//
// Layout: a directory (0700) of append-only segment files (0600) named by the sequence
// number of their first record, "%020d.seg", plus a file "head" holding the sequence number
// of the oldest record not yet acknowledged (and its CRC). A record is
//
//	uint32 length of payload | uint32 CRC-32C of (seq, payload) | uint64 seq | payload
//
// little endian. Append writes one record and fsyncs before returning, so an event that
// Append accepted survives kill -9 and power loss. Ack advances the head (overwritten in
// place and fsynced, so it needs no free space) and deletes segments that hold only
// acknowledged records. On Open a torn or corrupt tail (the record being written when the
// process died) is truncated away; records before it are kept. Appends after Open always go
// to a new segment, so a damaged segment is never appended to.
//
// The bound counts records waiting (appended, not acknowledged). When it is reached Append
// drops the new record and returns ErrFull: the oldest events are never rewritten, which
// keeps the files append-only, and delivery stays in order.
package mqttq

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// MaxRecord bounds a record's payload; a length field above it is treated as corruption,
// so a damaged file can never make Open allocate more than this.
const MaxRecord = 1 << 20

// segmentBytes is the size after which Append starts a new segment.
const segmentBytes = 4 << 20

const headerSize = 16

// ErrFull is returned by Append when the queue holds its maximum number of records.
var ErrFull = errors.New("mqttq: queue full")

// ErrClosed is returned after Close.
var ErrClosed = errors.New("mqttq: queue closed")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Record is one queued payload with its sequence number (strictly increasing, never reused).
type Record struct {
	Seq     uint64
	Payload []byte
}

type entry struct {
	seq  uint64
	seg  *segment
	off  int64
	size int
}

type segment struct {
	first uint64
	path  string
	f     *os.File // open for reading (and writing when active)
	last  uint64   // seq of the last record in it
	n     int      // records written into it
}

// Queue is safe for concurrent use.
type Queue struct {
	dir string
	max int
	log *slog.Logger

	mu      sync.Mutex
	closed  bool
	entries []entry // waiting records, oldest first
	segs    []*segment
	active  *segment
	size    int64 // bytes in active
	next    uint64
	head    uint64
	dropped uint64
	ready   chan struct{} // closed and replaced when a record is appended

	headFile *os.File
}

// Open opens or creates the queue in dir holding at most max waiting records.
func Open(dir string, max int, log *slog.Logger) (*Queue, error) {
	if max < 1 {
		return nil, fmt.Errorf("mqttq: max %d: must be at least 1", max)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("mqttq: create queue directory: %w", err)
	}
	q := &Queue{dir: dir, max: max, log: log, ready: make(chan struct{}), next: 1, head: 1}
	if err := q.load(); err != nil {
		q.closeFiles()
		return nil, err
	}
	return q, nil
}

func (q *Queue) load() error {
	if b, err := os.ReadFile(filepath.Join(q.dir, "head")); err == nil {
		if len(b) != 12 || crc32.Checksum(b[:8], castagnoli) != binary.LittleEndian.Uint32(b[8:]) {
			// A torn head file can only be an older head or a newer one; replaying from the
			// oldest segment means duplicates, never loss, and subscribers drop them by seq.
			q.log.Warn("mqttq: head file damaged; redelivering from the oldest queued event", "dir", q.dir)
			q.head = 0
		} else {
			q.head = binary.LittleEndian.Uint64(b)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("mqttq: read head: %w", err)
	}
	names, err := filepath.Glob(filepath.Join(q.dir, "*.seg"))
	if err != nil {
		return err
	}
	type segName struct {
		first uint64
		path  string
	}
	var list []segName
	for _, p := range names {
		first, err := strconv.ParseUint(strings.TrimSuffix(filepath.Base(p), ".seg"), 10, 64)
		if err != nil {
			q.log.Warn("mqttq: ignoring file with an unexpected name", "file", p)
			continue
		}
		list = append(list, segName{first, p})
	}
	sort.Slice(list, func(i, j int) bool { return list[i].first < list[j].first })
	var maxSeq uint64
	for _, sn := range list {
		f, err := os.OpenFile(sn.path, os.O_RDWR, 0)
		if err != nil {
			return fmt.Errorf("mqttq: open segment: %w", err)
		}
		s := &segment{first: sn.first, path: sn.path, f: f}
		valid, err := q.scan(s, &maxSeq)
		if err != nil {
			f.Close()
			return err
		}
		if st, err := f.Stat(); err == nil && st.Size() > valid {
			q.log.Warn("mqttq: truncating a torn or corrupt tail (the write in progress at a crash)",
				"file", sn.path, "kept_bytes", valid, "dropped_bytes", st.Size()-valid)
			if err := f.Truncate(valid); err != nil {
				f.Close()
				return fmt.Errorf("mqttq: truncate %s: %w", sn.path, err)
			}
			if err := f.Sync(); err != nil {
				f.Close()
				return fmt.Errorf("mqttq: sync %s: %w", sn.path, err)
			}
		}
		if s.n == 0 || s.last < q.head {
			f.Close()
			if err := os.Remove(sn.path); err != nil {
				return fmt.Errorf("mqttq: remove acknowledged segment: %w", err)
			}
			continue
		}
		q.segs = append(q.segs, s)
	}
	if q.head == 0 {
		q.head = 1
		if len(q.entries) > 0 {
			q.head = q.entries[0].seq
		}
	}
	q.next = max(maxSeq+1, q.head)
	// Create the head file now, while there is space, so acknowledging never needs new blocks.
	if err := q.writeHead(q.head); err != nil {
		q.log.Warn("mqttq: cannot write head file now; will retry at the first acknowledgement", "err", err)
	}
	if len(q.entries) > q.max {
		q.log.Warn("mqttq: more events on disk than max_events; keeping them all", "events", len(q.entries), "max_events", q.max)
	}
	return nil
}

// scan reads the records of s, appending the unacknowledged ones to q.entries, and returns
// the length of the valid prefix of the file.
func (q *Queue) scan(s *segment, maxSeq *uint64) (int64, error) {
	var off int64
	var hdr [headerSize]byte
	for {
		if _, err := s.f.ReadAt(hdr[:], off); err != nil {
			return off, nil // EOF or short header: the valid prefix ends here
		}
		n := binary.LittleEndian.Uint32(hdr[0:])
		sum := binary.LittleEndian.Uint32(hdr[4:])
		seq := binary.LittleEndian.Uint64(hdr[8:])
		if n > MaxRecord || seq <= *maxSeq && *maxSeq != 0 {
			return off, nil
		}
		p := make([]byte, n)
		if _, err := s.f.ReadAt(p, off+headerSize); err != nil {
			return off, nil
		}
		if checksum(seq, p) != sum {
			return off, nil
		}
		*maxSeq = seq
		s.last = seq
		s.n++
		if seq >= q.head {
			q.entries = append(q.entries, entry{seq: seq, seg: s, off: off, size: int(n)})
		}
		off += headerSize + int64(n)
	}
}

func checksum(seq uint64, p []byte) uint32 {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], seq)
	return crc32.Update(crc32.Checksum(b[:], castagnoli), castagnoli, p)
}

// Append stores p durably and returns its sequence number. It returns ErrFull (and counts a
// drop) when the queue is at its bound, and the I/O error when the disk fails; in both cases
// nothing already stored is affected.
func (q *Queue) Append(p []byte) (uint64, error) {
	return q.AppendFunc(func(uint64) ([]byte, error) { return p, nil })
}

// AppendFunc is Append for payloads that embed their own sequence number: build is called
// with the number the record will get, under the queue's lock.
func (q *Queue) AppendFunc(build func(seq uint64) ([]byte, error)) (uint64, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return 0, ErrClosed
	}
	if len(q.entries) >= q.max {
		q.dropped++
		return 0, ErrFull
	}
	seq := q.next
	p, err := build(seq)
	if err != nil {
		return 0, err
	}
	if len(p) > MaxRecord {
		return 0, fmt.Errorf("mqttq: record of %d bytes exceeds %d", len(p), MaxRecord)
	}
	if q.active == nil || q.size >= segmentBytes {
		if err := q.rotate(seq); err != nil {
			return 0, err
		}
	}
	buf := make([]byte, headerSize+len(p))
	binary.LittleEndian.PutUint32(buf[0:], uint32(len(p)))
	binary.LittleEndian.PutUint32(buf[4:], checksum(seq, p))
	binary.LittleEndian.PutUint64(buf[8:], seq)
	copy(buf[headerSize:], p)
	off := q.size
	if _, err := q.active.f.WriteAt(buf, off); err != nil {
		// Cut back a partial write so the segment stays well formed; start afresh next time.
		_ = q.active.f.Truncate(off)
		q.active = nil
		return 0, fmt.Errorf("mqttq: write event %d: %w", seq, err)
	}
	if err := q.active.f.Sync(); err != nil {
		_ = q.active.f.Truncate(off)
		q.active = nil
		return 0, fmt.Errorf("mqttq: sync event %d: %w", seq, err)
	}
	q.size += int64(len(buf))
	q.active.last = seq
	q.active.n++
	q.next = seq + 1
	q.entries = append(q.entries, entry{seq: seq, seg: q.active, off: off, size: len(p)})
	close(q.ready)
	q.ready = make(chan struct{})
	return seq, nil
}

func (q *Queue) rotate(first uint64) error {
	p := filepath.Join(q.dir, fmt.Sprintf("%020d.seg", first))
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("mqttq: create segment: %w", err)
	}
	if err := syncDir(q.dir); err != nil {
		f.Close()
		os.Remove(p)
		return err
	}
	s := &segment{first: first, path: p, f: f}
	q.segs = append(q.segs, s)
	q.active = s
	q.size = 0
	return nil
}

// Peek returns the oldest waiting record without removing it.
func (q *Queue) Peek() (Record, bool, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return Record{}, false, ErrClosed
	}
	if len(q.entries) == 0 {
		return Record{}, false, nil
	}
	e := q.entries[0]
	p := make([]byte, e.size)
	if _, err := e.seg.f.ReadAt(p, e.off+headerSize); err != nil && !errors.Is(err, io.EOF) {
		return Record{}, false, fmt.Errorf("mqttq: read event %d: %w", e.seq, err)
	}
	return Record{Seq: e.seq, Payload: p}, true, nil
}

// Ready returns a channel closed at the next Append; use it to wait for work.
func (q *Queue) Ready() <-chan struct{} {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.ready
}

// Ack removes the oldest record if its sequence number is seq, durably: after Ack returns,
// a restart will not deliver it again.
func (q *Queue) Ack(seq uint64) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return ErrClosed
	}
	if len(q.entries) == 0 || q.entries[0].seq != seq {
		return fmt.Errorf("mqttq: ack %d: not the oldest waiting event", seq)
	}
	if err := q.writeHead(seq + 1); err != nil {
		return err
	}
	q.entries[0] = entry{}
	q.entries = q.entries[1:]
	if len(q.entries) == 0 {
		q.entries = nil // let the backing array go
	}
	q.head = seq + 1
	// Delete segments that hold only acknowledged records (never the one being appended to).
	for len(q.segs) > 0 && q.segs[0] != q.active && q.segs[0].last < q.head {
		s := q.segs[0]
		s.f.Close()
		if err := os.Remove(s.path); err != nil {
			q.log.Warn("mqttq: cannot remove acknowledged segment", "file", s.path, "err", err)
		}
		q.segs = q.segs[1:]
	}
	return nil
}

func (q *Queue) writeHead(head uint64) error {
	var b [12]byte
	binary.LittleEndian.PutUint64(b[:], head)
	binary.LittleEndian.PutUint32(b[8:], crc32.Checksum(b[:8], castagnoli))
	if q.headFile == nil {
		f, err := os.OpenFile(filepath.Join(q.dir, "head"), os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return fmt.Errorf("mqttq: open head: %w", err)
		}
		if err := syncDir(q.dir); err != nil {
			f.Close()
			return err
		}
		q.headFile = f
	}
	// Overwriting 12 bytes in place needs no new disk blocks, so acknowledging (and with it
	// freeing segments) keeps working on a full disk. A torn write fails the CRC on Open and
	// costs duplicates, never loss.
	if _, err := q.headFile.WriteAt(b[:], 0); err != nil {
		return fmt.Errorf("mqttq: write head: %w", err)
	}
	if err := q.headFile.Sync(); err != nil {
		return fmt.Errorf("mqttq: sync head: %w", err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("mqttq: sync directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("mqttq: sync directory: %w", err)
	}
	return nil
}

// Len is the number of records waiting.
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.entries)
}

// Dropped is the number of records refused because the queue was full, since Open.
func (q *Queue) Dropped() uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.dropped
}

// Close releases the files; waiting records stay on disk for the next Open.
func (q *Queue) Close() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return nil
	}
	q.closed = true
	q.closeFiles()
	return nil
}

func (q *Queue) closeFiles() {
	for _, s := range q.segs {
		s.f.Close()
	}
	q.segs = nil
	q.entries = nil
	q.active = nil
	if q.headFile != nil {
		q.headFile.Close()
		q.headFile = nil
	}
}
