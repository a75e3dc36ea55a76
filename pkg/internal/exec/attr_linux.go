package exec

import "syscall"

// backgroundAttr puts a background command in a process group of its own, so stopping it stops what
// it started, and has Linux send it SIGTERM should this process die without stopping it (killed, say),
// so nothing is left running.
func backgroundAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
