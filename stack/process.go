package stack

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// readPid returns the pid recorded in file, or 0.
func readPid(file string) int {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}

// alive reports whether pid is a live (non-zombie) process whose command
// line contains marker. The marker (the service's own directory) keeps a
// stale pid file from ever pointing us at an unrelated process.
func alive(pid int, marker string) bool {
	if pid <= 0 {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// state is the field after the parenthesised command name
	if i := bytes.LastIndexByte(stat, ')'); i < 0 || i+2 >= len(stat) || stat[i+2] == 'Z' || stat[i+2] == 'X' {
		return false
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	return bytes.Contains(cmdline, []byte(marker))
}

// spawn starts argv detached from our session with output appended to logFile,
// and returns its pid. The child outlives the calling process.
func spawn(argv []string, dir, logFile string, env []string, asUser *syscall.Credential) (*os.Process, error) {
	lf, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer lf.Close()
	fmt.Fprintf(lf, "\n==== %s sluice stack: starting %s\n", time.Now().UTC().Format(time.RFC3339), strings.Join(argv, " "))
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Stdout = lf
	cmd.Stderr = lf
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Credential: asUser}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", argv[0], err)
	}
	// Reap the child if it dies while we still run, so it never lingers as a zombie.
	go func() { _ = cmd.Wait() }()
	return cmd.Process, nil
}

// stopPid sends sig and waits up to grace for the process to go, then kills its group.
func stopPid(pid int, marker string, sig syscall.Signal, grace time.Duration) error {
	if !alive(pid, marker) {
		return nil
	}
	_ = syscall.Kill(pid, sig)
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		if !alive(pid, marker) {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL) // the whole session we started
	_ = syscall.Kill(pid, syscall.SIGKILL)
	for i := 0; i < 50 && alive(pid, marker); i++ {
		time.Sleep(100 * time.Millisecond)
	}
	if alive(pid, marker) {
		return fmt.Errorf("pid %d did not exit after SIGKILL", pid)
	}
	return nil
}

// portFree reports nil if nothing listens on 127.0.0.1:port, or an error
// that names the program holding it when it can be found.
func portFree(port int) error {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err == nil {
		return l.Close()
	}
	if holder := portHolder(port); holder != "" {
		return fmt.Errorf("port %d is already in use by %s", port, holder)
	}
	return fmt.Errorf("port %d is already in use by another program", port)
}

// waitPortFree gives a process that just died a moment to release its port.
func waitPortFree(ctx context.Context, port int, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		err := portFree(port)
		if err == nil || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// portHolder finds the process listening on port through /proc, or "".
func portHolder(port int) string {
	inodes := map[string]bool{}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		fh, err := os.Open(f)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 || fields[3] != "0A" { // 0A = LISTEN
				continue
			}
			i := strings.LastIndexByte(fields[1], ':')
			if p, err := strconv.ParseInt(fields[1][i+1:], 16, 32); err == nil && int(p) == port {
				inodes[fields[9]] = true
			}
		}
		fh.Close()
	}
	if len(inodes) == 0 {
		return ""
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/fd/*")
	for _, fd := range procs {
		link, err := os.Readlink(fd)
		if err != nil || !strings.HasPrefix(link, "socket:[") {
			continue
		}
		if inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] {
			pid := strings.Split(fd, "/")[2]
			comm, _ := os.ReadFile("/proc/" + pid + "/comm")
			return fmt.Sprintf("pid %s (%s)", pid, strings.TrimSpace(string(comm)))
		}
	}
	return ""
}

// tail returns the last n lines of a file, for error messages.
func tail(file string, n int) string {
	b, err := os.ReadFile(file)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// writeFileAtomic writes via a temp file and rename, so a kill never leaves half a file.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, perm); err != nil {
		return err
	}
	if err := os.Chmod(tmp, perm); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func execCommand(ctx context.Context, argv []string, dir string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	return cmd
}

func sha256Hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// reapSession kills what is left of a session we started whose leader is
// gone (postgres backends outlive a kill -9 of the postmaster for a moment
// and would block a new one). Only when no process has pid sid any more, so
// a recycled pid never makes us touch someone else's session.
func reapSession(sid int) {
	if sid <= 0 {
		return
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", sid)); err == nil {
		return
	}
	want := strconv.Itoa(sid)
	for i := 0; i < 50; i++ {
		var left []int
		stats, _ := filepath.Glob("/proc/[0-9]*/stat")
		for _, f := range stats {
			b, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			j := bytes.LastIndexByte(b, ')')
			if j < 0 {
				continue
			}
			// after ")": state ppid pgrp session ...
			fields := strings.Fields(string(b[j+1:]))
			if len(fields) > 3 && fields[3] == want && fields[0] != "Z" {
				pid, _ := strconv.Atoi(strings.Split(f, "/")[2])
				left = append(left, pid)
			}
		}
		if len(left) == 0 {
			return
		}
		for _, pid := range left {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
