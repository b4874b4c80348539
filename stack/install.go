package stack

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// aptReq is a program that comes from a Debian package.
type aptReq struct {
	path    string // the file that proves it is installed
	pkg     string // the Debian package that provides it
	version string // substring the package version must contain ("" = any)
}

// goTool is a program built from a Go module with `go install`.
type goTool struct {
	name    string // binary name
	pkg     string // package path
	version string // module version
	probe   []string
	want    string // substring of the probe's output proving the version
}

var (
	aptClickHouse = aptReq{"/usr/sbin/clickhouse-server", "clickhouse-server", ""}
	aptPostgres   = aptReq{"/usr/lib/postgresql/15/bin/postgres", "postgresql-15", ""}
	aptRedis      = aptReq{"/usr/bin/redis-server", "redis-server", ""}
	aptLitecoind  = aptReq{"/usr/bin/litecoind", "litecoind", ""}

	toolBtcd   = goTool{"btcd", "github.com/btcsuite/btcd", "v0.24.2", []string{"--version"}, "0.24.2"}
	toolBtcctl = goTool{"btcctl", "github.com/btcsuite/btcd/cmd/btcctl", "v0.24.2", []string{"--version"}, "btcctl version"} // v0.24.2 reports 0.23.1
	toolGeth   = goTool{"geth", "github.com/ethereum/go-ethereum/cmd/geth", "v1.16.9", []string{"version"}, "1.16.9"}
)

// installApt installs the Debian packages of reqs that are missing, in one apt-get run.
func installApt(ctx context.Context, reqs []aptReq, log io.Writer, logFile string) error {
	var missing []string
	for _, r := range reqs {
		if _, err := os.Stat(r.path); err != nil && !slices.Contains(missing, r.pkg) {
			missing = append(missing, r.pkg)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("missing Debian packages %s; install them as root: apt-get install -y %s",
			strings.Join(missing, ", "), strings.Join(missing, " "))
	}
	fmt.Fprintf(log, "installing Debian packages: %s (log: %s)\n", strings.Join(missing, " "), logFile)
	lf, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer lf.Close()
	run := func(args ...string) error {
		cmd := exec.CommandContext(ctx, "apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		cmd.Stdout, cmd.Stderr = lf, lf
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("apt-get %s: %w (see %s)", args[0], err, logFile)
		}
		return nil
	}
	if err := run("update", "-q"); err != nil {
		return err
	}
	args := append([]string{"install", "-y", "-q", "--no-install-recommends"}, missing...)
	if err := run(args...); err != nil {
		return err
	}
	for _, r := range reqs {
		if _, err := os.Stat(r.path); err != nil {
			return fmt.Errorf("package %s installed but %s is missing", r.pkg, r.path)
		}
	}
	return nil
}

// installGo makes binDir/<name> the wanted version of each tool. Built
// binaries are kept in the user cache too, so a fresh clone reuses them
// instead of rebuilding (geth takes minutes on two cores).
func installGo(ctx context.Context, tools []goTool, binDir string, log io.Writer, logFile string) error {
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return err
	}
	cacheRoot, err := os.UserCacheDir()
	if err != nil {
		cacheRoot = os.TempDir()
	}
	for _, t := range tools {
		dst := filepath.Join(binDir, t.name)
		if t.has(ctx, dst) {
			continue
		}
		cacheDir := filepath.Join(cacheRoot, "sluice", "tools", t.name+"@"+t.version)
		cached := filepath.Join(cacheDir, t.name)
		if !t.has(ctx, cached) {
			fmt.Fprintf(log, "building %s %s with go install (a few minutes for geth; log: %s)\n", t.name, t.version, logFile)
			if err := os.MkdirAll(cacheDir, 0o755); err != nil {
				return err
			}
			lf, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
			if err != nil {
				return err
			}
			cmd := exec.CommandContext(ctx, "go", "install", t.pkg+"@"+t.version)
			cmd.Env = append(os.Environ(), "GOBIN="+cacheDir, "GOFLAGS=-buildvcs=false", "CGO_ENABLED=1")
			cmd.Stdout, cmd.Stderr = lf, lf
			err = cmd.Run()
			lf.Close()
			if err != nil {
				return fmt.Errorf("go install %s@%s: %w (see %s)", t.pkg, t.version, err, logFile)
			}
			if !t.has(ctx, cached) {
				return fmt.Errorf("go install %s@%s did not produce a working %s", t.pkg, t.version, cached)
			}
		}
		if err := copyFile(cached, dst, 0o755); err != nil {
			return fmt.Errorf("copy %s into %s: %w", t.name, binDir, err)
		}
	}
	return nil
}

// has reports whether path runs and reports the wanted version.
func (t goTool) has(ctx context.Context, path string) bool {
	if _, err := os.Stat(path); err != nil {
		return false
	}
	out, _ := exec.CommandContext(ctx, path, t.probe...).CombinedOutput()
	return strings.Contains(string(out), t.want)
}

func copyFile(src, dst string, perm os.FileMode) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return writeFileAtomic(dst, data, perm)
}
