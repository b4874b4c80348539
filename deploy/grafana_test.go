package deploy

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/sluicepay/sluice/internal/testenv"
)

// wantDashboards are the dashboards deploy/grafana must hold.
var wantDashboards = []string{"api.json", "payments.json", "sweeps.json", "sync.json", "webhooks.json"}

// dashboard is the part of a Grafana dashboard the tests read.
type dashboard struct {
	file          string
	Title         string   `json:"title"`
	UID           string   `json:"uid"`
	SchemaVersion int      `json:"schemaVersion"`
	Tags          []string `json:"tags"`
	Panels        []panel  `json:"panels"`
	Templating    struct {
		List []templateVar `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID         *int          `json:"id"`
	Type       string        `json:"type"`
	Title      string        `json:"title"`
	GridPos    *gridPos      `json:"gridPos"`
	Datasource *dsRef        `json:"datasource"`
	Targets    []panelTarget `json:"targets"`
	Panels     []panel       `json:"panels"` // a collapsed row's panels
}

type gridPos struct {
	H int `json:"h"`
	W int `json:"w"`
	X int `json:"x"`
	Y int `json:"y"`
}

type panelTarget struct {
	RefID      string `json:"refId"`
	Expr       string `json:"expr"`
	Datasource *dsRef `json:"datasource"`
}

type dsRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type templateVar struct {
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	Query      json.RawMessage `json:"query"`
	Datasource *dsRef          `json:"datasource"`
}

// queryText is a query variable's query: a string, or {"query": "..."} as
// newer Grafana editors write it.
func (v templateVar) queryText() (string, error) {
	var s string
	if err := json.Unmarshal(v.Query, &s); err == nil {
		return s, nil
	}
	var o struct {
		Query string `json:"query"`
	}
	if err := json.Unmarshal(v.Query, &o); err != nil {
		return "", fmt.Errorf("variable %s: query is neither a string nor an object with a query: %s", v.Name, v.Query)
	}
	return o.Query, nil
}

// loadDashboards reads every grafana/*.json.
func loadDashboards(t *testing.T) []dashboard {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("grafana", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	var ds []dashboard
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d dashboard
		if err := json.Unmarshal(data, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		d.file = filepath.Base(f)
		names = append(names, d.file)
		ds = append(ds, d)
	}
	for _, want := range wantDashboards {
		if !slices.Contains(names, want) {
			t.Errorf("grafana/%s is missing (have %v)", want, names)
		}
	}
	return ds
}

// allPanels is d's panels with the panels of collapsed rows.
func (d dashboard) allPanels() []panel {
	var out []panel
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			out = append(out, p)
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	return out
}

// promQuery is one PromQL expression of a dashboard, with where it is.
type promQuery struct {
	where string // dashboard file, panel and refId, or variable
	expr  string // as written, with Grafana's variables
}

// labelValues is Grafana's label_values(selector, label) variable query.
var labelValues = regexp.MustCompile(`^\s*label_values\((.+),\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$`)

// queries lists every PromQL expression of d: the panels' targets and the
// series selectors of its label_values variables.
func (d dashboard) queries(t *testing.T) []promQuery {
	t.Helper()
	var qs []promQuery
	for _, p := range d.allPanels() {
		for _, tg := range p.Targets {
			qs = append(qs, promQuery{where: fmt.Sprintf("%s: panel %q target %s", d.file, p.Title, tg.RefID), expr: tg.Expr})
		}
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		q, err := v.queryText()
		if err != nil {
			t.Errorf("%s: %v", d.file, err)
			continue
		}
		m := labelValues.FindStringSubmatch(q)
		if m == nil {
			t.Errorf("%s: variable %s: want label_values(selector, label), got %q", d.file, v.Name, q)
			continue
		}
		qs = append(qs, promQuery{where: fmt.Sprintf("%s: variable %s", d.file, v.Name), expr: m[1]})
	}
	return qs
}

// grafanaBuiltins are the variables Grafana itself defines, with a value
// for checking the expressions that use them.
var grafanaBuiltins = map[string]string{
	"__rate_interval": "5m", "__interval": "1m", "__interval_ms": "60000",
	"__range": "1h", "__range_s": "3600", "__range_ms": "3600000",
}

// sampleValues stand for the dashboards' own variables when checking.
var sampleValues = map[string]string{
	"chain": "btc", "instance": "127.0.0.1:27080", "flavour": "iqpay", "route": "/healthz",
}

// grafanaVar is $name, ${name} or ${name:format}.
var grafanaVar = regexp.MustCompile(`\$(?:\{([A-Za-z0-9_]+)(?::[A-Za-z]+)?\}|([A-Za-z0-9_]+))`)

// expand replaces Grafana's variables in expr by values (then the builtins)
// and returns the names it had no value for.
func expand(expr string, values map[string]string) (string, []string) {
	var unknown []string
	out := grafanaVar.ReplaceAllStringFunc(expr, func(m string) string {
		sub := grafanaVar.FindStringSubmatch(m)
		name := sub[1] + sub[2]
		if v, ok := values[name]; ok {
			return v
		}
		if v, ok := grafanaBuiltins[name]; ok {
			return v
		}
		unknown = append(unknown, name)
		return m
	})
	return out, unknown
}

// TestGrafanaDashboards checks the dashboards' structure: what Grafana needs
// to load them and what keeps them usable (templated datasource, unique ids,
// a grid without overlaps, a query in every target).
func TestGrafanaDashboards(t *testing.T) {
	uids := map[string]string{}
	for _, d := range loadDashboards(t) {
		t.Run(d.file, func(t *testing.T) {
			if d.Title == "" {
				t.Error("no title")
			}
			switch prev, dup := uids[d.UID]; {
			case d.UID == "":
				t.Error("no uid")
			case len(d.UID) > 40:
				t.Errorf("uid %q is longer than Grafana's 40 characters", d.UID)
			case dup:
				t.Errorf("uid %q is also the uid of %s", d.UID, prev)
			}
			uids[d.UID] = d.file
			if d.SchemaVersion < 36 {
				t.Errorf("schemaVersion %d: want 36 or later (datasource references by uid)", d.SchemaVersion)
			}
			if !slices.Contains(d.Tags, "sluice") {
				t.Error(`no "sluice" tag: the dashboards link to each other by it`)
			}
			checkVariables(t, d)
			checkPanels(t, d)
		})
	}
}

// checkVariables wants a Prometheus datasource variable that every query
// variable uses, and no variable defined twice.
func checkVariables(t *testing.T, d dashboard) {
	t.Helper()
	seen := map[string]bool{}
	var ds *templateVar
	for i, v := range d.Templating.List {
		if seen[v.Name] {
			t.Errorf("variable %s is defined twice", v.Name)
		}
		seen[v.Name] = true
		if v.Name == "datasource" {
			ds = &d.Templating.List[i]
		}
	}
	if ds == nil {
		t.Fatal(`no "datasource" variable: panels must not name a datasource of one Grafana`)
	}
	if q, err := ds.queryText(); ds.Type != "datasource" || err != nil || q != "prometheus" {
		t.Errorf(`variable datasource: want type datasource with query "prometheus", got type %q query %s`, ds.Type, ds.Query)
	}
	for _, v := range d.Templating.List {
		if v.Type == "query" && !templated(v.Datasource) {
			t.Errorf("variable %s: datasource %+v, want ${datasource}", v.Name, v.Datasource)
		}
	}
}

// templated reports whether ref is the dashboard's datasource variable.
func templated(ref *dsRef) bool {
	return ref != nil && ref.Type == "prometheus" && (ref.UID == "${datasource}" || ref.UID == "$datasource")
}

// checkPanels checks ids, grid positions, datasources and targets.
func checkPanels(t *testing.T, d dashboard) {
	t.Helper()
	ids := map[int]string{}
	var placed []panel
	for _, p := range d.allPanels() {
		name := fmt.Sprintf("panel %q", p.Title)
		switch {
		case p.ID == nil:
			t.Errorf("%s has no id", name)
		case *p.ID < 1:
			t.Errorf("%s has id %d", name, *p.ID)
		case ids[*p.ID] != "":
			t.Errorf("%s has id %d, as panel %q", name, *p.ID, ids[*p.ID])
		default:
			ids[*p.ID] = p.Title
		}
		if p.Title == "" {
			t.Errorf("a %s panel has no title", p.Type)
		}
		if g := p.GridPos; g == nil {
			t.Errorf("%s has no gridPos", name)
		} else if g.W < 1 || g.H < 1 || g.X < 0 || g.Y < 0 || g.X+g.W > 24 {
			t.Errorf("%s: gridPos %+v is off the 24-column grid", name, *g)
		} else {
			for _, q := range placed {
				if overlap(*g, *q.GridPos) {
					t.Errorf("%s (%+v) overlaps panel %q (%+v)", name, *g, q.Title, *q.GridPos)
				}
			}
			placed = append(placed, p)
		}
		if p.Type == "row" {
			if len(p.Targets) > 0 {
				t.Errorf("row %q has targets", p.Title)
			}
			continue
		}
		if p.Type == "" {
			t.Errorf("%s has no type", name)
		}
		if !templated(p.Datasource) {
			t.Errorf("%s: datasource %+v, want {type: prometheus, uid: ${datasource}}", name, p.Datasource)
		}
		if len(p.Targets) == 0 {
			t.Errorf("%s has no targets", name)
		}
		refs := map[string]bool{}
		for i, tg := range p.Targets {
			if tg.RefID == "" || refs[tg.RefID] {
				t.Errorf("%s target %d: refId %q empty or repeated", name, i, tg.RefID)
			}
			refs[tg.RefID] = true
			if strings.TrimSpace(tg.Expr) == "" {
				t.Errorf("%s target %s has no expr", name, tg.RefID)
			}
			if tg.Datasource != nil && !templated(tg.Datasource) {
				t.Errorf("%s target %s: datasource %+v, want ${datasource}", name, tg.RefID, tg.Datasource)
			}
		}
	}
	defined := map[string]bool{}
	for _, v := range d.Templating.List {
		defined[v.Name] = true
	}
	for _, q := range d.queries(t) {
		if strings.Contains(q.expr, "[[") {
			t.Errorf("%s: the [[var]] syntax is deprecated; use $var: %s", q.where, q.expr)
		}
		for _, m := range grafanaVar.FindAllStringSubmatch(q.expr, -1) {
			name := m[1] + m[2]
			if _, builtin := grafanaBuiltins[name]; !builtin && !defined[name] {
				t.Errorf("%s uses $%s, which the dashboard does not define", q.where, name)
			}
		}
	}
}

func overlap(a, b gridPos) bool {
	return a.X < b.X+b.W && b.X < a.X+a.W && a.Y < b.Y+b.H && b.Y < a.Y+a.H
}

// TestGrafanaUsesRegisteredMetrics checks that every sluice_* name in the
// dashboards' queries is a metric the Go code defines, so a renamed metric
// cannot silently empty a panel.
func TestGrafanaUsesRegisteredMetrics(t *testing.T) {
	registered := goMetricNames(t, testenv.RepoRoot(t))
	used := 0
	for _, d := range loadDashboards(t) {
		for _, q := range d.queries(t) {
			names := metricName.FindAllString(q.expr, -1)
			if len(names) == 0 && !strings.Contains(q.expr, "process_") && !strings.Contains(q.expr, "go_") {
				t.Errorf("%s uses no sluice metric: %s", q.where, q.expr)
			}
			for _, name := range names {
				used++
				if !registered[name] && !registered[histogramBase(name)] {
					t.Errorf("%s uses %s, which sluice does not register", q.where, name)
				}
			}
		}
	}
	if used == 0 {
		t.Fatal("no sluice_* metric found in the dashboards")
	}
}

// TestGrafanaQueriesParse parses every dashboard query, its variables
// replaced by sample values, as PromQL: promtool checks them as the
// expressions of recording rules, which it parses and type-checks offline.
func TestGrafanaQueriesParse(t *testing.T) {
	bin := promtool(t)
	var qs []promQuery
	for _, d := range loadDashboards(t) {
		qs = append(qs, d.queries(t)...)
	}
	var rules []map[string]string
	for i, q := range qs {
		expr, unknown := expand(q.expr, sampleValues)
		if len(unknown) > 0 {
			t.Errorf("%s: no sample value for $%s: add one to sampleValues", q.where, strings.Join(unknown, ", $"))
		}
		rules = append(rules, map[string]string{"record": "grafana:q" + strconv.Itoa(i), "expr": expr})
	}
	ok, out := checkRules(t, bin, rules)
	if !ok {
		// name the panels of the queries promtool refused
		for _, m := range regexp.MustCompile(`grafana:q(\d+)`).FindAllStringSubmatch(out, -1) {
			i, _ := strconv.Atoi(m[1])
			t.Errorf("%s does not parse: %s", qs[i].where, qs[i].expr)
		}
		t.Fatalf("promtool check rules:\n%s", out)
	}
	// promtool must refuse what is not PromQL, or this test proves nothing
	if ok, out := checkRules(t, bin, []map[string]string{{"record": "grafana:bad", "expr": "rate(sluice_index_height)"}}); ok {
		t.Fatalf("promtool accepted rate() of an instant vector:\n%s", out)
	}
}

// checkRules runs promtool check rules on a file of these recording rules.
func checkRules(t *testing.T, bin string, rules []map[string]string) (bool, string) {
	t.Helper()
	data, err := yaml.Marshal(map[string]any{"groups": []any{map[string]any{"name": "grafana", "rules": rules}}})
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "dashboard_queries.yml")
	if err := os.WriteFile(f, data, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "check", "rules", f).CombinedOutput()
	return err == nil, string(out)
}

// TestGrafanaProvisioning checks the provisioning files: a Prometheus
// datasource, and a file provider that loads the dashboards.
func TestGrafanaProvisioning(t *testing.T) {
	var ds struct {
		APIVersion  int `yaml:"apiVersion"`
		Datasources []struct {
			Name string `yaml:"name"`
			Type string `yaml:"type"`
			URL  string `yaml:"url"`
		} `yaml:"datasources"`
	}
	readYAML(t, filepath.Join("grafana", "provisioning", "datasources", "sluice-prometheus.yml"), &ds)
	if ds.APIVersion != 1 || len(ds.Datasources) != 1 || ds.Datasources[0].Type != "prometheus" || ds.Datasources[0].URL == "" {
		t.Errorf("datasource provisioning: want apiVersion 1 and one prometheus datasource with a url, got %+v", ds)
	}
	var dash struct {
		APIVersion int `yaml:"apiVersion"`
		Providers  []struct {
			Name    string `yaml:"name"`
			Type    string `yaml:"type"`
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	readYAML(t, filepath.Join("grafana", "provisioning", "dashboards", "sluice.yml"), &dash)
	if dash.APIVersion != 1 || len(dash.Providers) != 1 || dash.Providers[0].Type != "file" || dash.Providers[0].Options.Path == "" {
		t.Errorf("dashboard provisioning: want apiVersion 1 and one file provider with options.path, got %+v", dash)
	}
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
