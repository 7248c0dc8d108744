package face

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// GalleryFile is the gallery's file name inside its directory.
const GalleryFile = "gallery.vgf"

// GalleryVersion is the on-disk format version this code reads and writes.
const GalleryVersion = 1

// galleryMagic opens every gallery file.
const galleryMagic = "VIGILGAL"

// MaxNameLen is the longest identity name, in bytes.
const MaxNameLen = 64

// Unknown is the label of a face that matches no identity. It cannot be
// enrolled as a name.
const Unknown = "unknown"

const (
	maxGalleryBytes = 1 << 28 // refuse to read files beyond 256 MiB
	headerLen       = len(galleryMagic) + 4 + 8
	sumLen          = sha256.Size
)

// Errors callers branch on.
var (
	ErrCorrupt     = errors.New("gallery file is corrupt")
	ErrVersion     = errors.New("gallery file has an unsupported version")
	ErrInvalidName = errors.New("invalid identity name")
	ErrNotFound    = errors.New("not found")
	ErrExists      = errors.New("already exists")
	ErrMismatch    = errors.New("embedding does not fit the gallery")
)

// ValidateName checks an identity name: CheckName's rule (1 to 64 bytes of ASCII letters,
// digits, '_', '.' and '-', starting with a letter or digit) and not the reserved label
// "unknown" in any case. The daemon checks MQTT command targets with this same function,
// so a name the CLI enrols is a name the daemon publishes and accepts, and the reverse.
// Errors wrap ErrInvalidName.
func ValidateName(name string) error {
	if err := CheckName(name); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidName, err)
	}
	if strings.EqualFold(name, Unknown) {
		return fmt.Errorf("%w: %q is reserved for unmatched faces", ErrInvalidName, name)
	}
	return nil
}

// CheckName reports why s cannot be a name, or nil. A name (identity, and in the daemon
// device and camera) becomes one MQTT topic level, a Home Assistant object id and a file
// name, so it holds only ASCII letters, digits, '_', '.' and '-', starts with a letter or a
// digit (no ".", "..", hidden files or option-like "-x") and is at most MaxNameLen bytes:
// no '/', '+', '#', NUL, spaces, control or non-ASCII characters.
func CheckName(s string) error {
	switch {
	case s == "":
		return errors.New("must not be empty")
	case len(s) > MaxNameLen:
		return fmt.Errorf("%q is %d bytes long; at most %d", s[:16]+"...", len(s), MaxNameLen)
	}
	for i := range len(s) {
		c := s[i]
		alnum := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		if !alnum && (i == 0 || c != '_' && c != '.' && c != '-') {
			return fmt.Errorf("%q may hold only letters, digits, '_', '.', '-' and must start with a letter or digit (it becomes an MQTT topic level and a file name)", s)
		}
	}
	return nil
}

// Sample is one enrolled embedding of an identity.
type Sample struct {
	ID        uint64    `json:"id"` // unique in the gallery, never reused
	Embedding []float32 `json:"embedding"`
	Chip      []byte    `json:"chip,omitempty"` // aligned chip as JPEG, optional
	Source    string    `json:"source,omitempty"`
	Added     time.Time `json:"added"`
}

// Identity is an enrolled person.
type Identity struct {
	Name    string   `json:"name"`
	Samples []Sample `json:"samples"`
}

// Snapshot is one immutable state of a gallery. Callers must not modify
// it or anything it points to: every change makes a new Snapshot, so a
// reader holding one is never disturbed by a concurrent write.
type Snapshot struct {
	// Model names the embedder the embeddings come from, Dim their length;
	// both are set by the first enrolment.
	Model      string     `json:"model"`
	Dim        int        `json:"dim"`
	Identities []Identity `json:"identities"` // sorted by name
	Head       *Head      `json:"head,omitempty"`
	// Gen counts writes; NextID is the next sample ID.
	Gen    uint64 `json:"generation"`
	NextID uint64 `json:"next_id"`
}

// Find returns the identity with the given name.
func (s *Snapshot) Find(name string) (*Identity, bool) {
	i, ok := slices.BinarySearchFunc(s.Identities, name, func(id Identity, n string) int { return strings.Compare(id.Name, n) })
	if !ok {
		return nil, false
	}
	return &s.Identities[i], true
}

// Samples is the total number of samples.
func (s *Snapshot) Samples() int {
	n := 0
	for _, id := range s.Identities {
		n += len(id.Samples)
	}
	return n
}

func (s *Snapshot) clone() *Snapshot {
	c := *s
	c.Identities = slices.Clone(s.Identities)
	return &c
}

func (s *Snapshot) validate() error {
	if s.Dim < 0 || s.Dim > 1<<16 {
		return fmt.Errorf("dimension %d out of range", s.Dim)
	}
	ids := map[uint64]bool{}
	for i, id := range s.Identities {
		if err := ValidateName(id.Name); err != nil {
			return fmt.Errorf("identity %d: %w", i, err)
		}
		if i > 0 && s.Identities[i-1].Name >= id.Name {
			return fmt.Errorf("identities not sorted or duplicated at %q", id.Name)
		}
		if len(id.Samples) == 0 {
			return fmt.Errorf("identity %q has no samples", id.Name)
		}
		for _, sm := range id.Samples {
			if len(sm.Embedding) != s.Dim {
				return fmt.Errorf("identity %q sample %d: embedding has %d values, gallery dimension is %d", id.Name, sm.ID, len(sm.Embedding), s.Dim)
			}
			if !finite(sm.Embedding) {
				return fmt.Errorf("identity %q sample %d: embedding holds NaN or Inf", id.Name, sm.ID)
			}
			if ids[sm.ID] || sm.ID >= s.NextID {
				return fmt.Errorf("identity %q sample %d: ID repeated or not below next ID %d", id.Name, sm.ID, s.NextID)
			}
			ids[sm.ID] = true
		}
	}
	if s.Head != nil {
		if err := s.Head.validate(); err != nil {
			return fmt.Errorf("projection head: %w", err)
		}
		if s.Head.In != s.Dim {
			return fmt.Errorf("projection head takes %d values, gallery dimension is %d", s.Head.In, s.Dim)
		}
	}
	return nil
}

func finite(v []float32) bool {
	for _, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return false
		}
	}
	return true
}

// Encode serialises s: magic, version (uint32 LE), payload length (uint64
// LE), JSON payload, then the SHA-256 of everything before it.
func (s *Snapshot) Encode() ([]byte, error) {
	payload, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("encode gallery: %w", err)
	}
	var buf bytes.Buffer
	buf.Grow(headerLen + len(payload) + sumLen)
	buf.WriteString(galleryMagic)
	binary.Write(&buf, binary.LittleEndian, uint32(GalleryVersion))
	binary.Write(&buf, binary.LittleEndian, uint64(len(payload)))
	buf.Write(payload)
	return appendSum(buf.Bytes()), nil
}

// DecodeSnapshot parses and validates a gallery file's contents. Errors
// wrap ErrCorrupt or ErrVersion.
func DecodeSnapshot(data []byte) (*Snapshot, error) {
	if len(data) < headerLen+sumLen {
		return nil, fmt.Errorf("%w: %d bytes, shorter than header and checksum", ErrCorrupt, len(data))
	}
	if string(data[:len(galleryMagic)]) != galleryMagic {
		return nil, fmt.Errorf("%w: not a vigil gallery (bad magic %q)", ErrCorrupt, data[:len(galleryMagic)])
	}
	version := binary.LittleEndian.Uint32(data[len(galleryMagic):])
	n := binary.LittleEndian.Uint64(data[len(galleryMagic)+4:])
	if n != uint64(len(data)-headerLen-sumLen) {
		return nil, fmt.Errorf("%w: header says %d payload bytes, file holds %d (truncated or padded)", ErrCorrupt, n, len(data)-headerLen-sumLen)
	}
	body := data[:len(data)-sumLen]
	sum := sha256.Sum256(body)
	if !bytes.Equal(sum[:], data[len(body):]) {
		return nil, fmt.Errorf("%w: checksum mismatch", ErrCorrupt)
	}
	// The version is checked after the checksum so a damaged version field
	// reads as corruption, not as a file from another release.
	if version != GalleryVersion {
		return nil, fmt.Errorf("%w: version %d, this vigil reads version %d (upgrade vigil or re-enrol)", ErrVersion, version, GalleryVersion)
	}
	dec := json.NewDecoder(bytes.NewReader(body[headerLen:]))
	dec.DisallowUnknownFields()
	s := new(Snapshot)
	if err := dec.Decode(s); err != nil {
		return nil, fmt.Errorf("%w: payload: %v", ErrCorrupt, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data after payload", ErrCorrupt)
	}
	if err := s.validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return s, nil
}

// Gallery is an enrolled gallery in a directory. Readers take Snapshot();
// writers (Enroll, Remove, RemoveSample, Rename, SetHead) serialise on a
// mutex inside the process and on an flock across processes, start from
// the file on disk (so a CLI enrolment next to a running daemon loses
// nothing), and replace the file atomically.
type Gallery struct {
	dir  string
	wmu  sync.Mutex   // serialises writers in this process
	mu   sync.RWMutex // guards cur
	cur  *Snapshot
	now  func() time.Time
	sync bool
}

// OpenGallery opens (creating if needed, mode 0700) the gallery in dir. A
// missing file is an empty gallery; a corrupt or wrong-version file is an
// error (wrapping ErrCorrupt or ErrVersion) and is left untouched.
func OpenGallery(dir string) (*Gallery, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("gallery %q: %w", dir, err)
	}
	if st, err := os.Stat(dir); err == nil && st.Mode().Perm()&0o077 != 0 {
		// Embeddings and face chips are biometric data: owner only.
		if err := os.Chmod(dir, 0o700); err != nil {
			return nil, fmt.Errorf("gallery %q: restrict to mode 0700: %w", dir, err)
		}
	}
	g := &Gallery{dir: dir, now: time.Now, sync: true}
	s, err := g.read()
	if err != nil {
		return nil, err
	}
	g.cur = s
	return g, nil
}

// Dir is the gallery's directory.
func (g *Gallery) Dir() string { return g.dir }

// Path is the gallery file's path.
func (g *Gallery) Path() string { return filepath.Join(g.dir, GalleryFile) }

// Snapshot returns the current state. It never blocks on a write in progress.
func (g *Gallery) Snapshot() *Snapshot {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.cur
}

// Reload re-reads the file (another process may have written it). On
// error the last good snapshot stays current and the error says why the
// file was refused. changed reports whether a newer generation was loaded.
func (g *Gallery) Reload() (changed bool, err error) {
	s, err := g.read()
	if err != nil {
		return false, err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if s.Gen == g.cur.Gen {
		return false, nil
	}
	g.cur = s
	return true, nil
}

func (g *Gallery) read() (*Snapshot, error) {
	data, err := readLimited(g.Path(), maxGalleryBytes)
	if errors.Is(err, fs.ErrNotExist) {
		return &Snapshot{NextID: 1}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("gallery %q: %w", g.Path(), err)
	}
	s, err := DecodeSnapshot(data)
	if err != nil {
		return nil, fmt.Errorf("gallery %q: %w; it was left as it is: restore it from a backup or move it away to start empty", g.Path(), err)
	}
	return s, nil
}

func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrCorrupt, limit)
	}
	return data, nil
}

// update applies fn to a copy of the newest state on disk and writes the
// result atomically. fn must not modify the snapshot's shared slices in
// place: it replaces what it changes.
func (g *Gallery) update(fn func(*Snapshot) error) error {
	g.wmu.Lock()
	defer g.wmu.Unlock()
	unlock, err := lockDir(g.dir)
	if err != nil {
		return err
	}
	defer unlock()
	g.removeStaleTemps()
	base, err := g.read()
	if err != nil {
		return err
	}
	next := base.clone()
	if err := fn(next); err != nil {
		return err
	}
	next.Gen = base.Gen + 1
	if err := next.validate(); err != nil {
		return fmt.Errorf("gallery %q: refusing to write an invalid gallery: %w", g.Path(), err)
	}
	data, err := next.Encode()
	if err != nil {
		return err
	}
	if err := writeAtomic(g.dir, GalleryFile, data, g.sync); err != nil {
		return fmt.Errorf("gallery %q: %w", g.Path(), err)
	}
	g.mu.Lock()
	g.cur = next
	g.mu.Unlock()
	return nil
}

func lockDir(dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("gallery %q: lock: %w", dir, err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("gallery %q: lock: %w", dir, err)
	}
	return func() { f.Close() }, nil
}

const tempPattern = ".gallery-*.tmp"

// removeStaleTemps deletes temporary files left by a writer that crashed.
// It runs under the directory lock, so no live writer owns them.
func (g *Gallery) removeStaleTemps() {
	names, _ := filepath.Glob(filepath.Join(g.dir, tempPattern))
	for _, n := range names {
		os.Remove(n)
	}
}

// writeAtomic replaces dir/name with data: write a temporary file in the
// same directory (mode 0600), fsync it, rename it over the target, fsync
// the directory so the rename itself is durable.
func writeAtomic(dir, name string, data []byte, durable bool) (err error) {
	f, err := os.CreateTemp(dir, tempPattern)
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = f.Chmod(0o600); err != nil {
		return err
	}
	if _, err = f.Write(data); err != nil {
		return err
	}
	if durable {
		if err = f.Sync(); err != nil {
			return err
		}
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return err
	}
	if durable {
		d, err := os.Open(dir)
		if err != nil {
			return err
		}
		defer d.Close()
		if err := d.Sync(); err != nil {
			return fmt.Errorf("sync directory: %w", err)
		}
	}
	return nil
}

// NewSample is an embedding to enrol.
type NewSample struct {
	Embedding []float32
	Chip      []byte // JPEG, optional
	Source    string // e.g. the image file name
}

// Enroll adds samples to the named identity, creating it if needed, and
// returns their IDs. model names the embedder; it must match the
// gallery's (set by the first enrolment). Embeddings are L2-normalised
// before they are stored.
func (g *Gallery) Enroll(name, model string, samples ...NewSample) ([]uint64, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	if len(samples) == 0 {
		return nil, fmt.Errorf("enrol %q: no samples", name)
	}
	var ids []uint64
	err := g.update(func(s *Snapshot) error {
		if s.Model == "" && s.Dim == 0 {
			s.Model, s.Dim = model, len(samples[0].Embedding)
		}
		if model != s.Model {
			return fmt.Errorf("enrol %q: %w: gallery holds embeddings from model %q, these are from %q", name, ErrMismatch, s.Model, model)
		}
		var add []Sample
		for i, ns := range samples {
			if len(ns.Embedding) != s.Dim {
				return fmt.Errorf("enrol %q: sample %d: %w: %d values, gallery dimension is %d", name, i, ErrMismatch, len(ns.Embedding), s.Dim)
			}
			e := slices.Clone(ns.Embedding)
			if !Normalize(e) {
				return fmt.Errorf("enrol %q: sample %d: %w: zero or non-finite embedding", name, i, ErrMismatch)
			}
			add = append(add, Sample{ID: s.NextID, Embedding: e, Chip: slices.Clone(ns.Chip), Source: ns.Source, Added: g.now().UTC().Truncate(time.Millisecond)})
			ids = append(ids, s.NextID)
			s.NextID++
		}
		i, found := slices.BinarySearchFunc(s.Identities, name, func(id Identity, n string) int { return strings.Compare(id.Name, n) })
		if found {
			id := s.Identities[i]
			id.Samples = append(slices.Clip(id.Samples), add...)
			s.Identities[i] = id
		} else {
			s.Identities = slices.Insert(s.Identities, i, Identity{Name: name, Samples: add})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}

// Remove deletes an identity and all its samples.
func (g *Gallery) Remove(name string) error {
	return g.update(func(s *Snapshot) error {
		i := slices.IndexFunc(s.Identities, func(id Identity) bool { return id.Name == name })
		if i < 0 {
			return fmt.Errorf("remove %q: identity %w", name, ErrNotFound)
		}
		s.Identities = slices.Delete(s.Identities, i, i+1)
		return nil
	})
}

// RemoveSample deletes one sample of an identity; removing the last one
// removes the identity.
func (g *Gallery) RemoveSample(name string, id uint64) error {
	return g.update(func(s *Snapshot) error {
		i := slices.IndexFunc(s.Identities, func(x Identity) bool { return x.Name == name })
		if i < 0 {
			return fmt.Errorf("remove sample %d of %q: identity %w", id, name, ErrNotFound)
		}
		ident := s.Identities[i]
		j := slices.IndexFunc(ident.Samples, func(x Sample) bool { return x.ID == id })
		if j < 0 {
			return fmt.Errorf("remove sample %d of %q: sample %w", id, name, ErrNotFound)
		}
		ident.Samples = slices.Delete(slices.Clone(ident.Samples), j, j+1)
		if len(ident.Samples) == 0 {
			s.Identities = slices.Delete(s.Identities, i, i+1)
		} else {
			s.Identities[i] = ident
		}
		return nil
	})
}

// Rename renames an identity. The new name must be valid and unused.
func (g *Gallery) Rename(from, to string) error {
	if err := ValidateName(to); err != nil {
		return err
	}
	return g.update(func(s *Snapshot) error {
		i := slices.IndexFunc(s.Identities, func(x Identity) bool { return x.Name == from })
		if i < 0 {
			return fmt.Errorf("rename %q: identity %w", from, ErrNotFound)
		}
		if _, ok := s.Find(to); ok {
			return fmt.Errorf("rename %q to %q: %q %w", from, to, to, ErrExists)
		}
		ident := s.Identities[i]
		ident.Name = to
		s.Identities = slices.Delete(s.Identities, i, i+1)
		j, _ := slices.BinarySearchFunc(s.Identities, to, func(id Identity, n string) int { return strings.Compare(id.Name, n) })
		s.Identities = slices.Insert(s.Identities, j, ident)
		return nil
	})
}

// SetHead stores a projection head (nil removes it).
func (g *Gallery) SetHead(h *Head) error {
	return g.update(func(s *Snapshot) error {
		if h != nil && h.In != s.Dim {
			return fmt.Errorf("set head: %w: head takes %d values, gallery dimension is %d", ErrMismatch, h.In, s.Dim)
		}
		s.Head = h
		return nil
	})
}

func appendSum(body []byte) []byte {
	sum := sha256.Sum256(body)
	return append(body, sum[:]...)
}
