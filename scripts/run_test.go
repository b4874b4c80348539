package scripts

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fakeSluice stands in for var/bin/sluice: the stack, migrate and merchant
// commands succeed at once; the long-running ones (devnet receiver, devnet
// prices, serve) record their pid and command and sleep, as the real ones
// serve.
const fakeSluice = `#!/usr/bin/env bash
case "$1 $2" in
"stack up"|"stack down") exit 0 ;;
"stack env") echo "export SLUICE_API=http://127.0.0.1:1"; exit 0 ;;
"merchant create") echo '{"api_key": "k"}'; exit 0 ;;
esac
case "$1" in
migrate) exit 0 ;;
serve|devnet) echo "$$ $1 $2" >>"$FAKE_PIDS"; exec sleep 600 ;;
esac
echo "unexpected: $*" >&2
exit 2
`

// TestRunStopsChildren runs scripts/run.sh (make run) with a stand-in
// binary and stops it as a user would, Ctrl-C at the terminal (SIGINT to the
// whole foreground process group) or kill (SIGTERM to the script): the
// script must exit and leave none of the processes it started running.
func TestRunStopsChildren(t *testing.T) {
	for _, tc := range []struct {
		name  string
		group bool // signal the process group, as a terminal's Ctrl-C does
		sig   syscall.Signal
	}{
		{"ctrl-c", true, syscall.SIGINT},
		{"kill -INT", false, syscall.SIGINT},
		{"kill -TERM", false, syscall.SIGTERM},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			bin := filepath.Join(dir, "sluice")
			if err := os.WriteFile(bin, []byte(fakeSluice), 0o755); err != nil {
				t.Fatal(err)
			}
			pidFile := filepath.Join(dir, "pids")
			cmd := exec.Command("bash", "run.sh")
			cmd.Env = append(os.Environ(), "SLUICE_RUN_BIN="+bin, "SLUICE_RUN_DIR="+filepath.Join(dir, "stack"), "FAKE_PIDS="+pidFile)
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its own group, as a terminal's foreground job
			out := &strings.Builder{}
			cmd.Stdout, cmd.Stderr = out, out
			if err := os.MkdirAll(filepath.Join(dir, "stack"), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			var kids map[int]string
			t.Cleanup(func() { // whatever happens, nothing of this test stays
				_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				for pid := range kids {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			})

			deadline := time.Now().Add(20 * time.Second)
			for {
				kids = readPids(t, pidFile)
				if len(kids) == 3 {
					break
				}
				select {
				case err := <-done:
					t.Fatalf("run.sh exited early: %v\n%s", err, out)
				default:
				}
				if time.Now().After(deadline) {
					t.Fatalf("run.sh started %v, want the receiver, the price server and serve\n%s", kids, out)
				}
				time.Sleep(50 * time.Millisecond)
			}
			for _, want := range []string{"devnet receiver", "devnet prices", "serve "} {
				found := false
				for _, c := range kids {
					found = found || strings.HasPrefix(c+" ", want)
				}
				if !found {
					t.Fatalf("no %q among the children %v", want, kids)
				}
			}

			target := cmd.Process.Pid
			if tc.group {
				target = -target
			}
			if err := syscall.Kill(target, tc.sig); err != nil {
				t.Fatal(err)
			}
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				t.Fatalf("run.sh still running 30 s after %s\n%s", tc.sig, out)
			}
			for pid, c := range kids {
				if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
					t.Errorf("%s (pid %d) still runs after run.sh exited on %s", c, pid, tc.sig)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "stack", "receiver.pid")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("receiver.pid left behind: %v", err)
			}
		})
	}
}

// readPids reads the stand-in's pid file: pid → command.
func readPids(t *testing.T, path string) map[int]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	kids := map[int]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		pid, c, _ := strings.Cut(line, " ")
		n, err := strconv.Atoi(pid)
		if err != nil {
			t.Fatalf("pid file line %q: %v", line, err)
		}
		kids[n] = c
	}
	return kids
}
