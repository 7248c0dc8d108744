//go:build !linux

package neon

func threadCPU() float64 { return 0 }
