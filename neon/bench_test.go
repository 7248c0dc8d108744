package neon

import (
	"runtime"
	"testing"
)

// benchOps runs f in b.Loop and reports GOP/s over wall time and, where the
// OS tells, over the thread's CPU time (cpu-GOP/s), which stays meaningful
// on a loaded machine.
func benchOps(b *testing.B, ops float64, f func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	c0 := threadCPU()
	for b.Loop() {
		f()
	}
	cpu := threadCPU() - c0
	b.ReportMetric(ops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GOP/s")
	if cpu > 0 {
		b.ReportMetric(ops*float64(b.N)/cpu/1e9, "cpu-GOP/s")
	}
}
