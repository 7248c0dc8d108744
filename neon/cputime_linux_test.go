package neon

import "syscall"

// threadCPU returns the CPU time of the calling OS thread, in seconds:
// benchmarks report GOP/s per CPU second besides wall time, because the
// machines they run on are often shared.
func threadCPU() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru) != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
