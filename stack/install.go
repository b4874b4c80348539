package stack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
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

// aptTool is a Debian package installed for its programs alone: the service
// the package brings is neither started nor enabled.
type aptTool struct {
	aptReq
	service string // the package's init script and systemd unit
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

	// aptTools are installed by every `stack up`, whatever services it
	// starts: the project's tests run their programs (promtool checks
	// deploy/prometheus).
	aptTools = []aptTool{{aptReq{"/usr/bin/promtool", "prometheus", ""}, "prometheus"}}

	toolBtcd   = goTool{"btcd", "github.com/btcsuite/btcd", "v0.24.2", []string{"--version"}, "0.24.2"}
	toolBtcctl = goTool{"btcctl", "github.com/btcsuite/btcd/cmd/btcctl", "v0.24.2", []string{"--version"}, "btcctl version"} // v0.24.2 reports 0.23.1
	toolGeth   = goTool{"geth", "github.com/ethereum/go-ethereum/cmd/geth", "v1.16.9", []string{"version"}, "1.16.9"}
)

// installApt installs the Debian packages of reqs and aptTools that are
// missing, after one apt-get update.
func installApt(ctx context.Context, reqs []aptReq, log io.Writer, logFile string) error {
	var missing []string
	for _, r := range reqs {
		if _, err := os.Stat(r.path); err != nil && !slices.Contains(missing, r.pkg) {
			missing = append(missing, r.pkg)
		}
	}
	var tools []aptTool
	all := slices.Clone(missing)
	for _, t := range aptTools {
		if _, err := os.Stat(t.path); err != nil {
			tools = append(tools, t)
			all = append(all, t.pkg)
		}
	}
	if len(all) == 0 {
		return nil
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("missing Debian packages %s; install them as root: apt-get install -y %s",
			strings.Join(all, ", "), strings.Join(all, " "))
	}
	fmt.Fprintf(log, "installing Debian packages: %s (log: %s)\n", strings.Join(all, " "), logFile)
	lf, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer lf.Close()
	run := func(name string, args ...string) error {
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		cmd.Stdout, cmd.Stderr = lf, lf
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%s %s: %w (see %s)", name, args[0], err, logFile)
		}
		return nil
	}
	if err := run("apt-get", "update", "-q"); err != nil {
		return err
	}
	if len(missing) > 0 {
		if err := run("apt-get", append([]string{"install", "-y", "-q", "--no-install-recommends"}, missing...)...); err != nil {
			return err
		}
	}
	if len(tools) > 0 {
		if err := installTools(tools, run); err != nil {
			return err
		}
	}
	for _, r := range reqs {
		if _, err := os.Stat(r.path); err != nil {
			return fmt.Errorf("package %s installed but %s is missing", r.pkg, r.path)
		}
	}
	for _, t := range tools {
		if _, err := os.Stat(t.path); err != nil {
			return fmt.Errorf("package %s installed but %s is missing", t.pkg, t.path)
		}
	}
	return nil
}

// policyRCD is the file Debian's maintainer scripts ask (through invoke-rc.d
// and deb-systemd-invoke) whether they may start a service.
const policyRCD = "/usr/sbin/policy-rc.d"

// denyAll is a policy-rc.d that denies every start, as in a Docker build.
// Its marker line lets a later run remove one that a killed run left behind.
const denyAll = "#!/bin/sh\n# sluice stack: no service starts while it installs tools; removed after\nexit 101\n"

// installTools installs the packages of tools with apt-get under denyAll, so
// that their postinst does not start the package's service (prometheus would
// serve on :9090), then disables the service at boot. A policy-rc.d of the
// system's own (containers have one that denies) is left in charge.
func installTools(tools []aptTool, run func(name string, args ...string) error) error {
	cur, err := os.ReadFile(policyRCD)
	switch {
	case err == nil && string(cur) != denyAll:
		// the system's own policy
	case err == nil || errors.Is(err, fs.ErrNotExist):
		if err := os.WriteFile(policyRCD, []byte(denyAll), 0o755); err != nil {
			return fmt.Errorf("deny service starts: %w", err)
		}
		defer os.Remove(policyRCD)
	default:
		return fmt.Errorf("read %s: %w", policyRCD, err)
	}
	args := []string{"install", "-y", "-q", "--no-install-recommends"}
	for _, t := range tools {
		args = append(args, t.pkg)
	}
	if err := run("apt-get", args...); err != nil {
		return err
	}
	for _, t := range tools {
		if err := run("update-rc.d", t.service, "disable"); err != nil {
			return err
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
