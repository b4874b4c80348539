// Package fault lets tests kill the process at named points, to prove that
// a crash exactly there loses and repeats nothing: SLUICE_FAULT=NAME[,NAME]
// makes At(NAME) send the process SIGKILL, like kill -9 from outside but
// at a chosen instant. Unset (always, outside tests), At does nothing.
package fault

import (
	"os"
	"strings"
	"syscall"
)

var points = func() map[string]bool {
	m := map[string]bool{}
	for _, p := range strings.Split(os.Getenv("SLUICE_FAULT"), ",") {
		if p = strings.TrimSpace(p); p != "" {
			m[p] = true
		}
	}
	return m
}()

// At kills the process when SLUICE_FAULT names point.
func At(point string) {
	if points[point] {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way
	}
}
