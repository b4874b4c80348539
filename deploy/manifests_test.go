package deploy

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/sluicepay/sluice/config"
)

// The deployment manifests: deploy/compose (one host) and deploy/k8s
// (kustomize). Neither Docker nor a cluster runs here, so these tests check
// what can be checked without them: the files parse, images are pinned,
// ports stay on loopback, every sluice command and flag is one the binary
// has, every SLUICE_* variable is one config knows, every configuration
// passes `sluice config check` with the environment the manifests give it,
// the Prometheus targets are the processes that serve metrics, and (with
// kubectl, whose built-in kustomize renders offline) the overlays build.

const sluiceImage = "sluicepay/sluice"

// sluiceHelp runs `sluice SUB --help` once per subcommand and returns the
// flags it lists; ok is false when SUB is not a sluice command.
type sluiceHelp struct {
	bin   string
	mu    sync.Mutex
	flags map[string]map[string]bool
}

var flagRe = regexp.MustCompile(`(?m)^\s+(?:-\w, )?--([a-z0-9][a-z0-9-]*)`)

func (h *sluiceHelp) subcommand(t *testing.T, sub string) (map[string]bool, bool) {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	if f, ok := h.flags[sub]; ok {
		return f, f != nil
	}
	out, err := exec.Command(h.bin, sub, "--help").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "\n  sluice "+sub+" [flags]") {
		h.flags[sub] = nil
		return nil, false
	}
	f := map[string]bool{}
	for _, m := range flagRe.FindAllStringSubmatch(string(out), -1) {
		f[m[1]] = true
	}
	h.flags[sub] = f
	return f, true
}

// checkArgs checks that args are a sluice subcommand and its flags.
func (h *sluiceHelp) checkArgs(t *testing.T, where string, args []string) {
	t.Helper()
	if len(args) == 0 {
		t.Errorf("%s: no sluice subcommand", where)
		return
	}
	flags, ok := h.subcommand(t, args[0])
	if !ok {
		t.Errorf("%s: %q is not a sluice subcommand (sluice %s --help fails)", where, args[0], args[0])
		return
	}
	for _, a := range args[1:] {
		name, isFlag := strings.CutPrefix(a, "--")
		if !isFlag {
			continue // a flag's value
		}
		name, _, _ = strings.Cut(name, "=")
		if !flags[name] {
			t.Errorf("%s: sluice %s has no flag --%s", where, args[0], name)
		}
	}
}

// flagValue is the value of --name in args (--name=v or --name v).
func flagValue(args []string, name string) string {
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v
		}
		if a == "--"+name && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

// wantProcesses are the sluice processes of a deployment, by commandKey.
var wantProcesses = []string{"migrate", "serve --index=false", "index btc", "index ltc", "index eth", "consume", "webhooks", "sweep"}

// commandKey names the process sluice args run: the subcommand, with the
// chain of an indexer and the --index=false of an API-only serve.
func commandKey(args []string) string {
	switch {
	case len(args) == 0:
		return ""
	case args[0] == "index":
		return "index " + flagValue(args, "chain")
	case args[0] == "serve" && slices.Contains(args, "--index=false"):
		return "serve --index=false"
	}
	return args[0]
}

// knownEnv are the SLUICE_* variables sluice reads: config's overrides and
// SLUICE_CONFIG.
func knownEnv() map[string]bool {
	m := map[string]bool{"SLUICE_CONFIG": true}
	for _, ev := range config.EnvVars {
		m[ev.Name] = true
	}
	return m
}

func checkEnvNames(t *testing.T, where string, names []string) {
	t.Helper()
	known := knownEnv()
	for _, n := range names {
		if strings.HasPrefix(n, "SLUICE_") && !known[n] {
			t.Errorf("%s: %s is not a variable sluice reads (config.EnvVars)", where, n)
		}
	}
}

// pinned reports whether an image names a version: a tag other than latest,
// or a digest.
func pinned(image string) bool {
	if strings.Contains(image, "@sha256:") {
		return true
	}
	name := image[strings.LastIndex(image, "/")+1:]
	_, tag, ok := strings.Cut(name, ":")
	return ok && tag != "" && tag != "latest" && !strings.Contains(tag, "$")
}

// configCheck runs `sluice config check FILE` with only env as SLUICE_*
// variables, each secret file the environment names (fileSecrets) replaced
// by a fresh stand-in.
func configCheck(t *testing.T, bin, where, file string, env map[string]string) {
	t.Helper()
	var vars []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SLUICE_") {
			vars = append(vars, kv)
		}
	}
	for k, v := range env {
		switch k {
		case "SLUICE_SEED_FILE":
			v = seedFile(t)
		case "SLUICE_SECRETS_KEY_FILE":
			v = secretsKeyFile(t, bin)
		}
		if k == "SLUICE_CONFIG" {
			continue
		}
		vars = append(vars, k+"="+v)
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "config", "check", abs)
	cmd.Env = vars
	cmd.Dir = t.TempDir() // no var/stack/sluice.yaml to find
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("%s: sluice config check %s with the manifest's environment: %v\n%s", where, file, err, out)
	}
}

// seedFile is a random 32-byte hex seed in a mode 0600 file.
func seedFile(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	p := filepath.Join(t.TempDir(), "seed")
	if err := os.WriteFile(p, []byte(hex.EncodeToString(b)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// secretsKeyFile is a new secrets key (secrets.key_file), written by
// `sluice secrets keygen` as the deployments' instructions make it: mode
// 0600, 64 hex digits.
func secretsKeyFile(t *testing.T, bin string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "secrets.key")
	if out, err := exec.Command(bin, "secrets", "keygen", p).CombinedOutput(); err != nil {
		t.Fatalf("sluice secrets keygen %s: %v\n%s", p, err, out)
	}
	if st, err := os.Stat(p); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("sluice secrets keygen %s: want a file mode 0600, got %v, %v", p, st, err)
	}
	return p
}

// fileSecret is a secret sluice reads from a file of its own, mode 0600:
// the variable that names the file, how each deployment provides it, and
// the processes (commandKey) that need it. Every other process must go
// without it: least privilege.
type fileSecret struct {
	env         string // the SLUICE_* variable naming the file
	compose     string // the compose secret, mounted at /run/secrets/NAME
	composeFile string // ... and its file on the host
	k8sSecret   string // the Kubernetes Secret an init container copies from
	k8sKey      string // ... and its key
	processes   []string
}

var fileSecrets = []fileSecret{
	// derives deposit addresses (serve) and signs (sweep); docs/operations.md, Keys and the seed
	{env: "SLUICE_SEED_FILE", compose: "seed", composeFile: "./secrets/seed",
		k8sSecret: "sluice-seed", k8sKey: "seed", processes: []string{"serve --index=false", "sweep"}},
	// decrypts the merchants' webhook secrets to sign deliveries (webhooks);
	// the API's container is where the operator runs merchant create and
	// rotate-secret, which store them encrypted (docs/operations.md)
	{env: "SLUICE_SECRETS_KEY_FILE", compose: "secrets_key", composeFile: "./secrets/secrets.key",
		k8sSecret: "sluice-secrets-key", k8sKey: "secrets.key", processes: []string{"serve --index=false", "webhooks"}},
}

// ---- compose ----------------------------------------------------------------

type composeService struct {
	Image       string            `yaml:"image"`
	Build       map[string]any    `yaml:"build"`
	Command     []string          `yaml:"command"`
	User        string            `yaml:"user"`
	Environment map[string]string `yaml:"environment"`
	Ports       []string          `yaml:"ports"`
	Volumes     []string          `yaml:"volumes"`
	Secrets     []string          `yaml:"secrets"`
	DependsOn   yaml.Node         `yaml:"depends_on"`
	Healthcheck *struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
}

type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Secrets  map[string]struct {
		File string `yaml:"file"`
	} `yaml:"secrets"`
	Volumes map[string]any `yaml:"volumes"`
}

// dependsOn is the services s waits for, with their conditions.
func (s composeService) dependsOn(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	switch s.DependsOn.Kind {
	case 0:
	case yaml.SequenceNode:
		var names []string
		if err := s.DependsOn.Decode(&names); err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			out[n] = "service_started"
		}
	default:
		var m map[string]struct {
			Condition string `yaml:"condition"`
		}
		if err := s.DependsOn.Decode(&m); err != nil {
			t.Fatal(err)
		}
		for n, c := range m {
			out[n] = c.Condition
		}
	}
	return out
}

var interpRe = regexp.MustCompile(`\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)`)

// interpolate does what compose does to ${VAR}, ${VAR:-default},
// ${VAR:?message} and $$ with vars; it returns the variables used without a
// default.
func interpolate(text string, vars map[string]string) (string, []string, error) {
	var required []string
	var errs []error
	out := interpRe.ReplaceAllStringFunc(text, func(m string) string {
		if m == "$$" {
			return "$"
		}
		sub := interpRe.FindStringSubmatch(m)
		name, op, arg := sub[1], sub[2], sub[3]
		if name == "" {
			name = sub[4]
		}
		v, set := vars[name]
		switch op {
		case ":-", "-":
			if !set || (op == ":-" && v == "") {
				return arg
			}
		case ":?", "?":
			required = append(required, name)
			if !set || (op == ":?" && v == "") {
				errs = append(errs, fmt.Errorf("%s: %s", name, arg))
			}
		default:
			required = append(required, name)
		}
		return v
	})
	return out, required, errors.Join(errs...)
}

// dotEnv reads KEY=VALUE lines.
func dotEnv(t *testing.T, path string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: %q is not KEY=VALUE", path, line)
		}
		m[k] = v
	}
	return m
}

// loadCompose reads compose/docker-compose.yml as compose would with
// .env.example's variables, each empty one set to a test value.
func loadCompose(t *testing.T) (composeFile, map[string]string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("compose", "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	vars := dotEnv(t, filepath.Join("compose", ".env.example"))
	// every variable the file needs must be in .env.example
	_, required, _ := interpolate(string(raw), vars)
	for _, name := range required {
		if _, ok := vars[name]; !ok {
			t.Errorf("docker-compose.yml uses ${%s} without a default, and .env.example does not list it", name)
		}
	}
	for k, v := range vars {
		if v == "" {
			vars[k] = "test" + strings.ToLower(strings.ReplaceAll(k, "_", "")) + "0123"
		}
	}
	text, _, err := interpolate(string(raw), vars)
	if err != nil {
		t.Fatalf("docker-compose.yml with .env.example filled in: %v", err)
	}
	var f composeFile
	dec := yaml.NewDecoder(strings.NewReader(text))
	dec.KnownFields(false)
	if err := dec.Decode(&f); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	if len(f.Services) == 0 {
		t.Fatal("docker-compose.yml has no services")
	}
	return f, vars
}

func TestComposeFile(t *testing.T) {
	f, _ := loadCompose(t)
	for name, s := range f.Services {
		if s.Image == "" || !pinned(s.Image) {
			t.Errorf("service %s: image %q is not pinned to a version (no tag, or latest)", name, s.Image)
		}
		for _, p := range s.Ports {
			if !strings.HasPrefix(p, "127.0.0.1:") || strings.Count(p, ":") != 2 {
				t.Errorf("service %s: port %q is not published on 127.0.0.1 only (want 127.0.0.1:HOST:CONTAINER)", name, p)
			}
		}
		for _, v := range s.Volumes {
			src, _, _ := strings.Cut(v, ":")
			if strings.HasPrefix(src, ".") {
				if _, err := os.Stat(filepath.Join("compose", src)); err != nil {
					t.Errorf("service %s mounts %s, which does not exist: %v", name, src, err)
				}
			} else if _, ok := f.Volumes[src]; !ok && !strings.HasPrefix(src, "/") {
				t.Errorf("service %s mounts volume %s, which volumes: does not declare", name, src)
			}
		}
		for _, sec := range s.Secrets {
			if _, ok := f.Secrets[sec]; !ok {
				t.Errorf("service %s uses secret %s, which secrets: does not declare", name, sec)
			}
		}
		for dep := range s.dependsOn(t) {
			if _, ok := f.Services[dep]; !ok {
				t.Errorf("service %s depends on %s, which is not a service", name, dep)
			}
		}
		if s.Healthcheck == nil && !slices.Contains([]string{"migrate", "lighthouse"}, name) {
			t.Errorf("service %s has no healthcheck", name)
		}
	}
	// secrets are files under secrets/, which .gitignore keeps out of git
	ignore, err := os.ReadFile(filepath.Join("compose", ".gitignore"))
	if err != nil {
		t.Fatal(err)
	}
	for _, pattern := range []string{".env", "secrets/"} {
		if !slices.Contains(strings.Fields(string(ignore)), pattern) {
			t.Errorf("compose/.gitignore must list %s", pattern)
		}
	}
	for name, sec := range f.Secrets {
		if !strings.HasPrefix(sec.File, "./secrets/") {
			t.Errorf("secret %s: file %q is not under ./secrets/ (ignored by git)", name, sec.File)
		}
	}
	// the header says how to make each secret file
	raw, err := os.ReadFile(filepath.Join("compose", "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	header, _, _ := strings.Cut(string(raw), "\nname:")
	for name, sec := range f.Secrets {
		if !strings.Contains(header, strings.TrimPrefix(sec.File, "./")) {
			t.Errorf("docker-compose.yml's header comments do not say how to create %s (secret %s)", sec.File, name)
		}
	}
	if !strings.Contains(header, "secrets keygen") {
		t.Errorf("docker-compose.yml's header comments must give the sluice secrets keygen command for secrets/secrets.key")
	}
	if _, err := os.Stat(filepath.Join("compose", ".env")); err == nil {
		t.Logf("compose/.env exists here; it is ignored by git, never commit it")
	}
	// the stores and nodes the brief names, at pinned versions
	for _, want := range []string{"clickhouse/clickhouse-server:", "postgres:16", "redis:7", "bitcoind", "litecoin", "ethereum/client-go:", "prom/prometheus:", "grafana/grafana:"} {
		found := false
		for _, s := range f.Services {
			found = found || strings.Contains(s.Image, want)
		}
		if !found {
			t.Errorf("no service runs an image like %s", want)
		}
	}
	if redis := f.Services["redis"]; !slices.Contains(redis.Command, "--appendonly") || redis.Command[slices.Index(redis.Command, "--appendonly")+1] != "yes" {
		t.Errorf("redis must run with --appendonly yes, got %v", redis.Command)
	}
}

// TestComposeSluice checks the sluice processes: every one the deployment
// needs, real subcommands and flags, known variables, the migrate one-shot
// before them, the health and metrics endpoints, and each configuration
// through `sluice config check`.
func TestComposeSluice(t *testing.T) {
	f, _ := loadCompose(t)
	bin := sluiceBin(t)
	help := &sluiceHelp{bin: bin, flags: map[string]map[string]bool{}}

	byCommand := map[string]string{}
	for name, s := range f.Services {
		if !strings.HasPrefix(s.Image, sluiceImage+":") {
			continue
		}
		where := "compose service " + name
		help.checkArgs(t, where, s.Command)
		var names []string
		for k := range s.Environment {
			names = append(names, k)
		}
		checkEnvNames(t, where, names)
		if s.Build["dockerfile"] != "deploy/compose/Dockerfile" || s.Build["context"] != "../.." {
			t.Errorf("%s: want build from ../.. with deploy/compose/Dockerfile, got %v", where, s.Build)
		}
		if s.User == "" || strings.HasPrefix(s.User, "0:") || s.User == "root" {
			t.Errorf("%s: runs as %q, want a non-root user", where, s.User)
		}
		byCommand[commandKey(s.Command)] = name
		if name != "migrate" {
			if c := s.dependsOn(t)["migrate"]; c != "service_completed_successfully" {
				t.Errorf("%s: must depend on migrate with condition service_completed_successfully, got %q", where, c)
			}
		}
		composeFileSecrets(t, f, where, s)
		configCheck(t, bin, where, filepath.Join("compose", "sluice.yaml"), s.Environment)
	}
	for _, want := range wantProcesses {
		if byCommand[want] == "" {
			t.Errorf("no compose service runs sluice %s (have %v)", want, byCommand)
		}
	}

	// the API's healthcheck asks /healthz and /readyz on api.listen's port
	api := f.Services[byCommand["serve --index=false"]]
	_, apiPort, _ := net.SplitHostPort(api.Environment["SLUICE_API_LISTEN"])
	if hc := healthText(api); !strings.Contains(hc, ":"+apiPort+"/healthz") || !strings.Contains(hc, ":"+apiPort+"/readyz") {
		t.Errorf("the API's healthcheck must ask /healthz and /readyz on port %q: %q", apiPort, hc)
	}
	// metrics: every process that serves them is a Prometheus target, and
	// every target is one of them
	metrics := map[string]bool{byCommand["serve --index=false"] + ":" + apiPort: true}
	for name, s := range f.Services {
		if l := flagValue(s.Command, "metrics-listen"); l != "" && strings.HasPrefix(s.Image, sluiceImage+":") {
			_, port, err := net.SplitHostPort(l)
			if err != nil {
				t.Fatal(err)
			}
			metrics[name+":"+port] = true
			if hc := healthText(s); !strings.Contains(hc, ":"+port+"/healthz") || !strings.Contains(hc, ":"+port+"/readyz") {
				t.Errorf("service %s: its healthcheck must ask /healthz and /readyz on its metrics port %s: %q", name, port, hc)
			}
		}
	}
	var prom struct {
		RuleFiles     []string `yaml:"rule_files"`
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	readYAML(t, filepath.Join("compose", "prometheus.yml"), &prom)
	targets := map[string]bool{}
	for _, sc := range prom.ScrapeConfigs {
		for _, st := range sc.StaticConfigs {
			for _, tg := range st.Targets {
				if sc.JobName != "sluice" {
					t.Errorf("target %s is in job %s; the alerts (SluiceDown) watch job sluice", tg, sc.JobName)
				}
				targets[tg] = true
			}
		}
	}
	if !slices.Equal(keys(targets), keys(metrics)) {
		t.Errorf("compose/prometheus.yml scrapes %v; the sluice processes serve metrics at %v", keys(targets), keys(metrics))
	}
	if !slices.Equal(prom.RuleFiles, []string{"alerts.yml"}) {
		t.Errorf("compose/prometheus.yml rule_files = %v, want [alerts.yml] (mounted beside it)", prom.RuleFiles)
	}
	promSvc := f.Services["prometheus"]
	if !slices.Contains(promSvc.Volumes, "../prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro") ||
		!slices.Contains(promSvc.Volumes, "./prometheus.yml:/etc/prometheus/prometheus.yml:ro") {
		t.Errorf("prometheus must mount ./prometheus.yml and ../prometheus/alerts.yml into /etc/prometheus: %v", promSvc.Volumes)
	}
}

// composeFileSecrets checks that sluice service s gets each of fileSecrets
// exactly when its process needs it: the compose secret, and the variable
// naming it at /run/secrets.
func composeFileSecrets(t *testing.T, f composeFile, where string, s composeService) {
	t.Helper()
	process := commandKey(s.Command)
	known := map[string]bool{}
	for _, fs := range fileSecrets {
		known[fs.compose] = true
		v, set := s.Environment[fs.env]
		mounted := slices.Contains(s.Secrets, fs.compose)
		if !slices.Contains(fs.processes, process) {
			if set || mounted {
				t.Errorf("%s: sluice %s does not need %s (only %v do): give it neither the secret %s nor %s", where, process, fs.env, fs.processes, fs.compose, fs.env)
			}
			continue
		}
		if want := "/run/secrets/" + fs.compose; v != want || !mounted {
			t.Errorf("%s: sluice %s needs %s: want secrets: [%s] and %s=%s, got secrets %v and %s=%q", where, process, fs.env, fs.compose, fs.env, want, s.Secrets, fs.env, v)
		}
		if got := f.Secrets[fs.compose].File; got != fs.composeFile {
			t.Errorf("secret %s: file %q, want %s", fs.compose, got, fs.composeFile)
		}
	}
	for _, sec := range s.Secrets {
		if !known[sec] {
			t.Errorf("%s: the secret %s is not one sluice reads", where, sec)
		}
	}
}

// TestComposePromtool checks compose/prometheus.yml, with the alerts beside
// it as in the container, with promtool.
func TestComposePromtool(t *testing.T) {
	bin := promtool(t)
	dir := t.TempDir()
	for src, dst := range map[string]string{filepath.Join("compose", "prometheus.yml"): "prometheus.yml", filepath.Join("prometheus", "alerts.yml"): "alerts.yml"} {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, dst), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command(bin, "check", "config", filepath.Join(dir, "prometheus.yml")).CombinedOutput(); err != nil {
		t.Fatalf("promtool check config compose/prometheus.yml: %v\n%s", err, out)
	}
	var ds struct {
		Datasources []struct {
			UID, Type, URL string
		} `yaml:"datasources"`
	}
	readYAML(t, filepath.Join("compose", "grafana", "datasources", "prometheus.yml"), &ds)
	if len(ds.Datasources) != 1 || ds.Datasources[0].Type != "prometheus" || ds.Datasources[0].URL != "http://prometheus:9090" {
		t.Errorf("compose's Grafana datasource must be the prometheus service: %+v", ds)
	}
}

func healthText(s composeService) string {
	if s.Healthcheck == nil {
		return ""
	}
	return strings.Join(s.Healthcheck.Test, " ")
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestDockerfile checks the image: a Go build stage of ./cmd/sluice, a
// pinned runtime, a non-root user.
func TestDockerfile(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("compose", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	args := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^ARG (\w+)=(\S+)$`).FindAllStringSubmatch(text, -1) {
		args[m[1]] = m[2]
	}
	froms := regexp.MustCompile(`(?m)^FROM (\S+)`).FindAllStringSubmatch(text, -1)
	if len(froms) < 2 {
		t.Fatalf("want a build stage and a runtime stage, got %d FROM lines", len(froms))
	}
	for _, m := range froms {
		image := regexp.MustCompile(`\$\{(\w+)\}`).ReplaceAllStringFunc(m[1], func(v string) string { return args[v[2:len(v)-1]] })
		if !pinned(image) {
			t.Errorf("FROM %s (%s) is not pinned", m[1], image)
		}
	}
	gomod, err := os.ReadFile(filepath.Join("..", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	goVersion := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(gomod)
	if goVersion == nil || args["GO_VERSION"] != string(goVersion[1]) {
		t.Errorf("ARG GO_VERSION=%s, go.mod says go %s", args["GO_VERSION"], goVersion[1])
	}
	for _, want := range []string{"./cmd/sluice", "CGO_ENABLED=0", "USER 10001:10001", `ENTRYPOINT ["/usr/local/bin/sluice"]`} {
		if !strings.Contains(text, want) {
			t.Errorf("Dockerfile lacks %s", want)
		}
	}
	ignore, err := os.ReadFile(filepath.Join("compose", "Dockerfile.dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"var", ".git", "deploy/compose/.env", "deploy/compose/secrets"} {
		if !slices.Contains(strings.Fields(string(ignore)), want) {
			t.Errorf("Dockerfile.dockerignore must keep %s out of the build context", want)
		}
	}
}

// ---- kubernetes -------------------------------------------------------------

type kustomization struct {
	Resources          []string `yaml:"resources"`
	ConfigMapGenerator []struct {
		Name  string   `yaml:"name"`
		Files []string `yaml:"files"`
	} `yaml:"configMapGenerator"`
	Patches []struct {
		Path string `yaml:"path"`
	} `yaml:"patches"`
}

// k8sObject is the part of a Kubernetes object the tests read.
type k8sObject struct {
	file       string
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name   string            `yaml:"name"`
		Labels map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	Spec struct {
		Replicas *int `yaml:"replicas"`
		Selector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		SvcSelector map[string]string `yaml:"-"`
		Template    podTemplate       `yaml:"template"`
		Ports       []struct {
			Name       string `yaml:"name"`
			TargetPort string `yaml:"targetPort"`
		} `yaml:"ports"`
		MinAvailable *int `yaml:"minAvailable"`
	} `yaml:"spec"`
	raw map[string]any
}

type podTemplate struct {
	Metadata struct {
		Labels      map[string]string `yaml:"labels"`
		Annotations map[string]string `yaml:"annotations"`
	} `yaml:"metadata"`
	Spec struct {
		SecurityContext struct {
			RunAsNonRoot bool `yaml:"runAsNonRoot"`
		} `yaml:"securityContext"`
		InitContainers []container `yaml:"initContainers"`
		Containers     []container `yaml:"containers"`
		Volumes        []podVolume `yaml:"volumes"`
	} `yaml:"spec"`
}

type podVolume struct {
	Name      string `yaml:"name"`
	ConfigMap *struct {
		Name string `yaml:"name"`
	} `yaml:"configMap"`
	Secret *struct {
		SecretName string `yaml:"secretName"`
		Items      []struct {
			Key  string `yaml:"key"`
			Path string `yaml:"path"`
		} `yaml:"items"`
	} `yaml:"secret"`
	EmptyDir *struct {
		Medium string `yaml:"medium"`
	} `yaml:"emptyDir"`
}

type volumeMount struct {
	Name      string `yaml:"name"`
	MountPath string `yaml:"mountPath"`
	ReadOnly  bool   `yaml:"readOnly"`
}

type probe struct {
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port string `yaml:"port"`
	} `yaml:"httpGet"`
}

type container struct {
	Name    string   `yaml:"name"`
	Image   string   `yaml:"image"`
	Args    []string `yaml:"args"`
	Command []string `yaml:"command"`
	Env     []struct {
		Name      string `yaml:"name"`
		Value     string `yaml:"value"`
		ValueFrom *struct {
			SecretKeyRef *struct {
				Name     string `yaml:"name"`
				Key      string `yaml:"key"`
				Optional bool   `yaml:"optional"`
			} `yaml:"secretKeyRef"`
		} `yaml:"valueFrom"`
	} `yaml:"env"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	LivenessProbe  *probe `yaml:"livenessProbe"`
	ReadinessProbe *probe `yaml:"readinessProbe"`
	Resources      struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	} `yaml:"resources"`
	VolumeMounts []volumeMount `yaml:"volumeMounts"`
}

// readObjects parses every document of a YAML stream as a Kubernetes object.
func readObjects(t *testing.T, name string, data []byte) []k8sObject {
	t.Helper()
	var objs []k8sObject
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var node yaml.Node
		err := dec.Decode(&node)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var o k8sObject
		if err := node.Decode(&o); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := node.Decode(&o.raw); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if o.Kind == "Service" {
			var svc struct {
				Spec struct {
					Selector map[string]string `yaml:"selector"`
				} `yaml:"spec"`
			}
			_ = node.Decode(&svc)
			o.Spec.SvcSelector = svc.Spec.Selector
		}
		o.file = name
		objs = append(objs, o)
	}
	return objs
}

// k8sTree reads deploy/k8s: each kustomization's references must exist;
// every YAML that is not a kustomization or a generator's input is a list
// of objects.
func k8sTree(t *testing.T) (objs []k8sObject, configs []string) {
	t.Helper()
	inputs := map[string]bool{}
	var yamls []string
	err := filepath.WalkDir("k8s", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !(strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
			return nil
		}
		if d.Name() != "kustomization.yaml" {
			yamls = append(yamls, path)
			return nil
		}
		var k kustomization
		readYAML(t, path, &k)
		dir := filepath.Dir(path)
		refs := slices.Clone(k.Resources)
		for _, p := range k.Patches {
			refs = append(refs, p.Path)
		}
		for _, g := range k.ConfigMapGenerator {
			for _, f := range g.Files {
				if _, file, ok := strings.Cut(f, "="); ok { // key=file
					f = file
				}
				inputs[filepath.Join(dir, f)] = true
				refs = append(refs, f)
			}
		}
		if len(k.Resources) == 0 {
			t.Errorf("%s lists no resources", path)
		}
		for _, r := range refs {
			st, err := os.Stat(filepath.Join(dir, r))
			switch {
			case err != nil:
				t.Errorf("%s lists %s, which does not exist", path, r)
			case st.IsDir():
				if _, err := os.Stat(filepath.Join(dir, r, "kustomization.yaml")); err != nil {
					t.Errorf("%s lists the directory %s, which has no kustomization.yaml", path, r)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range yamls {
		if inputs[p] {
			configs = append(configs, p)
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, readObjects(t, p, data)...)
	}
	return objs, configs
}

func TestKubernetesManifests(t *testing.T) {
	objs, configs := k8sTree(t)
	if len(configs) < 2 {
		t.Errorf("want the base's and the overlay's sluice.yaml as ConfigMap inputs, got %v", configs)
	}
	byName := map[string]k8sObject{}
	for _, o := range objs {
		if o.APIVersion == "" || o.Kind == "" || o.Metadata.Name == "" {
			t.Errorf("%s: an object without apiVersion, kind or metadata.name: %v", o.file, o.raw)
			continue
		}
		if strings.HasPrefix(o.file, filepath.Join("k8s", "base")) {
			byName[o.Kind+"/"+o.Metadata.Name] = o
		}
	}
	want := map[string]int{
		"Deployment/sluice-api": 2, "Deployment/sluice-index-btc": 2, "Deployment/sluice-index-ltc": 2, "Deployment/sluice-index-eth": 2,
		"Deployment/sluice-consume": 1, "Deployment/sluice-webhooks": 1, "Deployment/sluice-sweep": 1,
		"Job/sluice-migrate": 0, "Service/sluice-api": 0, "PodDisruptionBudget/sluice-api": 0,
	}
	for name, replicas := range want {
		o, ok := byName[name]
		if !ok {
			t.Errorf("the base has no %s", name)
			continue
		}
		if replicas > 0 && (o.Spec.Replicas == nil || *o.Spec.Replicas != replicas) {
			t.Errorf("%s: want %d replicas, got %v", name, replicas, o.Spec.Replicas)
		}
	}
	apiLabels := byName["Deployment/sluice-api"].Spec.Template.Metadata.Labels
	if sel := byName["Service/sluice-api"].Spec.SvcSelector; len(sel) == 0 || !subset(sel, apiLabels) {
		t.Errorf("Service sluice-api selects %v, the API pods have %v", sel, apiLabels)
	}
	if pdb := byName["PodDisruptionBudget/sluice-api"]; len(pdb.Spec.Selector.MatchLabels) == 0 || !subset(pdb.Spec.Selector.MatchLabels, apiLabels) ||
		pdb.Spec.MinAvailable == nil || *pdb.Spec.MinAvailable < 1 {
		t.Errorf("PodDisruptionBudget sluice-api must keep at least one API pod (selector %v, minAvailable %v)", pdb.Spec.Selector.MatchLabels, pdb.Spec.MinAvailable)
	}

	bin := sluiceBin(t)
	help := &sluiceHelp{bin: bin, flags: map[string]map[string]bool{}}
	commands := map[string]bool{}
	for name, o := range byName {
		if o.Kind != "Deployment" && o.Kind != "Job" {
			continue
		}
		pod := o.Spec.Template
		if !pod.Spec.SecurityContext.RunAsNonRoot {
			t.Errorf("%s: the pod must set runAsNonRoot", name)
		}
		if o.Kind == "Deployment" && !subset(o.Spec.Selector.MatchLabels, pod.Metadata.Labels) {
			t.Errorf("%s: selector %v does not match its pods' labels %v", name, o.Spec.Selector.MatchLabels, pod.Metadata.Labels)
		}
		volumes := map[string]bool{}
		for _, v := range pod.Spec.Volumes {
			volumes[v.Name] = true
		}
		for _, c := range append(slices.Clone(pod.Spec.InitContainers), pod.Spec.Containers...) {
			where := name + " container " + c.Name
			if !pinned(c.Image) || !strings.HasPrefix(c.Image, sluiceImage+":") {
				t.Errorf("%s: image %q, want %s:TAG (the overlay sets the registry and tag)", where, c.Image, sluiceImage)
			}
			if len(c.Resources.Requests) == 0 || c.Resources.Limits["memory"] == "" {
				t.Errorf("%s: needs resources.requests and a memory limit", where)
			}
			for _, m := range c.VolumeMounts {
				if !volumes[m.Name] {
					t.Errorf("%s mounts %s, which the pod does not declare", where, m.Name)
				}
			}
		}
		for _, c := range pod.Spec.Containers {
			where := name + " container " + c.Name
			help.checkArgs(t, where, c.Args)
			commands[commandKey(c.Args)] = true
			env := map[string]string{}
			var names []string
			for _, e := range c.Env {
				names = append(names, e.Name)
				switch {
				case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
					ref := e.ValueFrom.SecretKeyRef
					if ref.Name != "sluice-secrets" {
						t.Errorf("%s: %s from Secret %s, want sluice-secrets", where, e.Name, ref.Name)
					}
					if !ref.Optional {
						env[e.Name] = secretExample(e.Name)
					}
				default:
					env[e.Name] = e.Value
				}
			}
			checkEnvNames(t, where, names)
			k8sFileSecrets(t, where, pod, c, env)
			if env["SLUICE_CONFIG"] != "/etc/sluice/sluice.yaml" {
				t.Errorf("%s: SLUICE_CONFIG=%q, want /etc/sluice/sluice.yaml (the ConfigMap's mount)", where, env["SLUICE_CONFIG"])
			}
			for _, cfg := range configs {
				configCheck(t, bin, where+" with "+cfg, cfg, env)
			}
			ports := map[string]int{}
			for _, p := range c.Ports {
				ports[p.Name] = p.ContainerPort
			}
			if len(ports) == 0 {
				if o.Kind == "Deployment" {
					t.Errorf("%s: a Deployment whose container serves nothing cannot be probed or scraped", where)
				}
				continue // the migrate Job
			}
			if c.LivenessProbe == nil || c.ReadinessProbe == nil || c.LivenessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet == nil {
				t.Errorf("%s serves HTTP: needs HTTP liveness and readiness probes", where)
				continue
			}
			for _, p := range []*probe{c.LivenessProbe, c.ReadinessProbe} {
				if _, ok := ports[p.HTTPGet.Port]; !ok {
					t.Errorf("%s: a probe asks port %q, which the container does not name", where, p.HTTPGet.Port)
				}
			}
			ann := pod.Metadata.Annotations
			port, _ := strconv.Atoi(ann["prometheus.io/port"])
			if ann["prometheus.io/scrape"] != "true" || ann["prometheus.io/path"] != "/metrics" || !slices.Contains(mapValues(ports), port) {
				t.Errorf("%s: want prometheus.io/scrape, /path and /port (one of %v) annotations on the pod, got %v", where, ports, ann)
			}
			if l := flagValue(c.Args, "metrics-listen"); l != "" {
				_, p, _ := net.SplitHostPort(l)
				if strconv.Itoa(ports["metrics"]) != p {
					t.Errorf("%s: --metrics-listen %s, but its metrics port is %d", where, l, ports["metrics"])
				}
			}
			// every process serves /healthz and /readyz (the workers on their metrics port)
			if c.LivenessProbe.HTTPGet.Path != "/healthz" || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
				t.Errorf("%s: want liveness /healthz and readiness /readyz, got %s and %s", where, c.LivenessProbe.HTTPGet.Path, c.ReadinessProbe.HTTPGet.Path)
			}
			if c.Args[0] == "serve" {
				_, p, _ := net.SplitHostPort(env["SLUICE_API_LISTEN"])
				if p == "" {
					p = "27080" // from sluice.yaml
				}
				if strconv.Itoa(ports["http"]) != p {
					t.Errorf("%s: the http port %d is not api.listen's %s", where, ports["http"], p)
				}
			}
		}
	}
	for _, want := range wantProcesses {
		if !commands[want] {
			t.Errorf("no Deployment or Job runs sluice %s (have %v)", want, keys(commands))
		}
	}

	// every Secret the base references is one the operator is told to create:
	// in kustomization.yaml's comments and deploy/README.md's commands
	secretNames := map[string]bool{}
	for _, o := range byName {
		for _, v := range o.Spec.Template.Spec.Volumes {
			if v.Secret != nil {
				secretNames[v.Secret.SecretName] = true
			}
		}
		for _, c := range o.Spec.Template.Spec.Containers {
			for _, e := range c.Env {
				if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
					secretNames[e.ValueFrom.SecretKeyRef.Name] = true
				}
			}
		}
	}
	kust, err := os.ReadFile(filepath.Join("k8s", "base", "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for name := range secretNames {
		if !regexp.MustCompile(`(?m)^#.*\b` + regexp.QuoteMeta(name) + `\b`).Match(kust) {
			t.Errorf("k8s/base/kustomization.yaml: its comments do not list the Secret %s the manifests use", name)
		}
		if !strings.Contains(string(readme), "create secret generic "+name+" ") {
			t.Errorf("deploy/README.md does not say how to create the Secret %s (kubectl create secret generic %s ...)", name, name)
		}
	}
}

// k8sFileSecrets checks that container c of pod gets each of fileSecrets
// exactly when its process needs it: the variable naming a file that an
// init container copies from the Secret's key (install -m 0600: sluice
// refuses a Secret volume's root-owned files) into a memory-backed emptyDir
// c mounts read-only. A pod whose process does not need it neither names
// nor mounts it.
func k8sFileSecrets(t *testing.T, where string, pod podTemplate, c container, env map[string]string) {
	t.Helper()
	process := commandKey(c.Args)
	for _, fs := range fileSecrets {
		path, set := env[fs.env]
		if !slices.Contains(fs.processes, process) {
			if set {
				t.Errorf("%s: sluice %s does not need %s (only %v do)", where, process, fs.env, fs.processes)
			}
			for _, v := range pod.Spec.Volumes {
				if v.Secret != nil && v.Secret.SecretName == fs.k8sSecret {
					t.Errorf("%s: sluice %s does not need the Secret %s (only %v do), but its pod mounts it", where, process, fs.k8sSecret, fs.processes)
				}
			}
			continue
		}
		if !set || path == "" {
			t.Errorf("%s: sluice %s needs %s (a file copied from the Secret %s), and has none", where, process, fs.env, fs.k8sSecret)
			continue
		}
		secret, key, err := k8sFileFrom(pod, c, path)
		if err != nil {
			t.Errorf("%s: %s=%s: %v", where, fs.env, path, err)
		} else if secret != fs.k8sSecret || key != fs.k8sKey {
			t.Errorf("%s: %s=%s is copied from the Secret %s key %s, want %s key %s", where, fs.env, path, secret, key, fs.k8sSecret, fs.k8sKey)
		}
	}
}

// k8sFileFrom is the Secret and key an init container of pod copies to
// path, a file in a memory-backed emptyDir that c mounts read-only.
func k8sFileFrom(pod podTemplate, c container, path string) (secret, key string, err error) {
	vols := map[string]podVolume{}
	for _, v := range pod.Spec.Volumes {
		vols[v.Name] = v
	}
	m, rel, ok := mountOf(c, path)
	if !ok {
		return "", "", fmt.Errorf("no volume of %s holds it", c.Name)
	}
	if v := vols[m.Name]; v.EmptyDir == nil || v.EmptyDir.Medium != "Memory" {
		return "", "", fmt.Errorf("it is on the volume %s, not a memory-backed emptyDir", m.Name)
	}
	if !m.ReadOnly {
		return "", "", fmt.Errorf("%s mounts the volume %s read-write, want readOnly", c.Name, m.Name)
	}
	for _, ic := range pod.Spec.InitContainers {
		cmd := ic.Command
		if len(cmd) != 5 || cmd[0] != "/usr/bin/install" || cmd[1] != "-m" || cmd[2] != "0600" {
			continue
		}
		if dm, drel, ok := mountOf(ic, cmd[4]); !ok || dm.Name != m.Name || drel != rel {
			continue
		}
		sm, srel, ok := mountOf(ic, cmd[3])
		sv := vols[sm.Name]
		if !ok || sv.Secret == nil {
			return "", "", fmt.Errorf("the init container %s copies it from %s, which is not in a Secret volume", ic.Name, cmd[3])
		}
		key = srel
		for _, it := range sv.Secret.Items {
			if it.Path == srel {
				key = it.Key
			}
		}
		return sv.Secret.SecretName, key, nil
	}
	return "", "", fmt.Errorf("no init container copies it there (install -m 0600 SECRET_FILE %s)", path)
}

// mountOf is the mount of c that holds path (the deepest), and path within
// that volume.
func mountOf(c container, path string) (m volumeMount, rel string, ok bool) {
	for _, vm := range c.VolumeMounts {
		r, found := strings.CutPrefix(path, strings.TrimSuffix(vm.MountPath, "/")+"/")
		if found && (!ok || len(vm.MountPath) > len(m.MountPath)) {
			m, rel, ok = vm, r, true
		}
	}
	return m, rel, ok
}

// secretExample is a stand-in for the value of a Secret key, as an operator
// would set it, for `sluice config check`.
func secretExample(env string) string {
	switch env {
	case "SLUICE_CLICKHOUSE_DSN":
		return "clickhouse://sluice:secret@clickhouse.db:9000/sluice"
	case "SLUICE_POSTGRES_DSN":
		return "postgres://sluice:secret@postgres.db:5432/sluice?sslmode=require"
	case "SLUICE_REDIS_URL":
		return "redis://:secret@redis.db:6379/0"
	case "SLUICE_BTC_RPC":
		return "http://sluice:secret@bitcoind.nodes:8332"
	case "SLUICE_LTC_RPC":
		return "http://sluice:secret@litecoind.nodes:9332"
	}
	return "secret"
}

func subset(a, b map[string]string) bool {
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func mapValues(m map[string]int) []int {
	var out []int
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// TestKustomizeBuild renders the base and every overlay with kubectl's
// built-in kustomize (offline). kubectl is not part of the stack: without it
// the test skips, under CI too.
func TestKustomizeBuild(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl is not installed; its built-in kustomize would render deploy/k8s")
	}
	dirs, err := filepath.Glob(filepath.Join("k8s", "overlays", "*"))
	if err != nil {
		t.Fatal(err)
	}
	dirs = append([]string{filepath.Join("k8s", "base")}, dirs...)
	for _, dir := range dirs {
		out, err := exec.Command(kubectl, "kustomize", dir).Output()
		if err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				t.Errorf("kubectl kustomize %s: %v\n%s", dir, err, ee.Stderr)
			}
			continue
		}
		objs := readObjects(t, dir, out)
		var configMap string
		for _, o := range objs {
			if o.Kind == "ConfigMap" && strings.HasPrefix(o.Metadata.Name, "sluice-config-") {
				configMap = o.Metadata.Name
			}
		}
		if configMap == "" {
			t.Errorf("%s: no generated ConfigMap sluice-config-HASH", dir)
		}
		for _, o := range objs {
			for _, v := range o.Spec.Template.Spec.Volumes {
				if v.ConfigMap != nil && v.ConfigMap.Name != configMap {
					t.Errorf("%s: %s/%s mounts ConfigMap %s, not the generated %s", dir, o.Kind, o.Metadata.Name, v.ConfigMap.Name, configMap)
				}
			}
			if o.Metadata.Labels["app.kubernetes.io/part-of"] != "sluice" {
				t.Errorf("%s: %s/%s lacks the label app.kubernetes.io/part-of=sluice", dir, o.Kind, o.Metadata.Name)
			}
			if dir != filepath.Join("k8s", "base") {
				for _, c := range o.Spec.Template.Spec.Containers {
					if strings.HasPrefix(c.Image, sluiceImage+":") {
						t.Errorf("%s: %s/%s still runs %s: the overlay should set its registry and tag", dir, o.Kind, o.Metadata.Name, c.Image)
					}
				}
				if o.Kind != "Namespace" {
					ns, _ := o.raw["metadata"].(map[string]any)["namespace"].(string)
					if ns == "" {
						t.Errorf("%s: %s/%s has no namespace", dir, o.Kind, o.Metadata.Name)
					}
				}
			}
		}
	}
}
