package bench

import (
	"syscall"
	"time"
)

// processCPU is the CPU time (user + system) this process has used so far.
// A phase's share of it, divided by its operations, is the cost of one
// operation in our code (load generator included, services excluded): a
// per-core figure that a noisy neighbour disturbs far less than wall-clock
// throughput.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// CPUMeter measures this process's CPU time over a span of work.
type CPUMeter struct{ start time.Duration }

// StartCPU starts measuring.
func StartCPU() CPUMeter { return CPUMeter{start: processCPU()} }

// Stop records the CPU used since StartCPU on r (CPU, CPUPerOp).
func (m CPUMeter) Stop(r *Result) {
	r.CPU = processCPU() - m.start
	if r.Ops > 0 {
		r.CPUPerOp = r.CPU / time.Duration(r.Ops)
	}
}
