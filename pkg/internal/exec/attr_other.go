//go:build !linux

package exec

import "syscall"

// backgroundAttr puts a background command in a process group of its own, so stopping it stops what
// it started.
func backgroundAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
