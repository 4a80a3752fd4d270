package main

import (
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// followGoRun makes `go run ./cmd/fundigo …` stop cleanly on SIGTERM.
//
// `go run` does not forward SIGTERM to the program it built: `kill <pid of go
// run>` ends go run and leaves fundigo serving. When our parent is the go
// command, we ask the kernel to send us SIGTERM when it exits, which reaches
// the same graceful shutdown as a direct SIGTERM. Started any other way
// (binary, container, systemd), nothing changes.
func followGoRun() {
	ppid := os.Getppid()
	comm, err := os.ReadFile("/proc/" + strconv.Itoa(ppid) + "/comm")
	if err != nil || strings.TrimSpace(string(comm)) != "go" {
		return
	}
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(syscall.SIGTERM), 0, 0, 0); err != nil {
		return
	}
	// The parent may have exited between Getppid and Prctl.
	if os.Getppid() != ppid {
		_ = syscall.Kill(os.Getpid(), syscall.SIGTERM)
	}
}
