//go:build !linux

package main

// followGoRun is a no-op where the kernel has no parent-death signal.
func followGoRun() {}
