package deploy

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/sluicepay/sluice/internal/testenv"
)

// promtool finds promtool, which `sluice stack up` installs (Debian's
// prometheus package).
func promtool(t *testing.T) string {
	t.Helper()
	return requireTool(t, "promtool", "Debian package prometheus")
}

// requireTool finds the program name on PATH, or else in /usr/bin (where
// `sluice stack up` installs its Debian packages). Without it the test skips,
// except under CI=true, where it fails: the stack must have installed it.
func requireTool(t *testing.T, name, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if _, serr := os.Stat(filepath.Join("/usr/bin", name)); serr == nil {
			return filepath.Join("/usr/bin", name)
		}
		msg := name + " is not installed; `sluice stack up` installs it (" + pkg + ")"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + "; under CI it is required")
		}
		t.Skip(msg)
	}
	return path
}

func TestPromtool(t *testing.T) {
	bin := promtool(t)
	for _, args := range [][]string{
		{"check", "rules", "prometheus/alerts.yml"},
		{"test", "rules", "prometheus/alerts_test.yml"},
		{"check", "config", "prometheus/prometheus.yml"},
	} {
		t.Run(args[0]+"_"+args[1], func(t *testing.T) {
			out, err := exec.Command(bin, args...).CombinedOutput()
			if err != nil {
				t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
			}
		})
	}
}

var (
	metricName  = regexp.MustCompile(`sluice_[a-z0-9_]+`)     // in PromQL or annotation text
	goMetricLit = regexp.MustCompile(`"(sluice_[a-z0-9_]+)"`) // a whole Go string literal
)

// TestAlertsUseRegisteredMetrics checks that every sluice_* name in the
// alerts' expressions and annotations is a metric the Go code defines, so a
// renamed metric cannot silently turn an alert off.
func TestAlertsUseRegisteredMetrics(t *testing.T) {
	registered := goMetricNames(t, testenv.RepoRoot(t))
	for _, name := range []string{"sluice_index_height", "sluice_dependency_up", "sluice_watch_fp_rate_alarm"} {
		if !registered[name] {
			t.Fatalf("the scan of the Go sources missed %s: fix goMetricNames", name)
		}
	}
	for _, r := range alertRules(t) {
		texts := []string{r.Expr}
		for _, a := range r.Annotations {
			texts = append(texts, a)
		}
		for _, text := range texts {
			for _, name := range metricName.FindAllString(text, -1) {
				if !registered[name] && !registered[histogramBase(name)] {
					t.Errorf("alert %s uses %s, which sluice does not register", r.Alert, name)
				}
			}
		}
	}
}

type rule struct {
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	Annotations map[string]string `yaml:"annotations"`
}

// alertRules reads prometheus/alerts.yml.
func alertRules(t *testing.T) []rule {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("prometheus", "alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Groups []struct {
			Rules []rule `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(data, &file); err != nil {
		t.Fatalf("alerts.yml: %v", err)
	}
	var rules []rule
	for _, g := range file.Groups {
		rules = append(rules, g.Rules...)
	}
	if len(rules) == 0 {
		t.Fatal("alerts.yml has no rules")
	}
	return rules
}

// histogramBase is the histogram a _bucket, _sum or _count series belongs to.
func histogramBase(name string) string {
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok {
			return base
		}
	}
	return name
}

// goMetricNames collects the string literals "sluice_..." of the module's
// non-test Go files: metric names (Name: "sluice_x", NewDesc("sluice_x", ...)
// and helpers taking the name) and a few other identifiers, which no alert
// names.
func goMetricNames(t *testing.T, root string) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && (strings.HasPrefix(d.Name(), ".") || slices.Contains([]string{"var", "vendor", "testdata"}, d.Name())) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range goMetricLit.FindAllSubmatch(src, -1) {
			names[string(m[1])] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return names
}
