//go:build !cgo

package ort

import "fmt"

var errNoCgo = fmt.Errorf("%w: built without cgo", ErrUnavailable)

// Init always fails without cgo.
func Init(path string) error { return errNoCgo }

// Version is "" without cgo.
func Version() string { return "" }

// Session is unavailable without cgo.
type Session struct{}

// NewSession always fails without cgo.
func NewSession(model []byte, opts Options) (*Session, error) { return nil, errNoCgo }

func (s *Session) Inputs() []TensorInfo   { return nil }
func (s *Session) Outputs() []TensorInfo  { return nil }
func (s *Session) Input(i int) []float32  { return nil }
func (s *Session) Output(i int) []float32 { return nil }
func (s *Session) Run() error             { return errNoCgo }
func (s *Session) Close()                 {}
