package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestRunbookAnchors: every alert's runbook link points at an anchor that
// docs/operations.md has.
func TestRunbookAnchors(t *testing.T) {
	rules, err := os.ReadFile("prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(filepath.Join("..", "docs", "operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	links := regexp.MustCompile(`docs/operations\.md#([a-z0-9-]+)`).FindAllStringSubmatch(string(rules), -1)
	if len(links) == 0 {
		t.Fatal("no runbook links in alerts.yml")
	}
	for _, l := range links {
		if !strings.Contains(string(doc), `<a id="`+l[1]+`"></a>`) {
			t.Errorf("alerts.yml links docs/operations.md#%s, which has no such anchor", l[1])
		}
	}
}

// TestRunbookCommands: every `sluice …` command docs/operations.md tells the
// operator to run exists in the binary, and the runbooks send the operator
// to none of the merchant API's routes that need a merchant's API key (the
// operator holds none; the CLI has the same views across merchants).
func TestRunbookCommands(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	bin := sluiceBin(t)
	word := regexp.MustCompile(`^[a-z][a-z-]*$`)
	seen := map[string]bool{}
	for _, m := range regexp.MustCompile("`sluice ([^`]+)`").FindAllStringSubmatch(string(doc), -1) {
		var path []string
		for _, w := range strings.Fields(m[1]) {
			if !word.MatchString(w) {
				break
			}
			path = append(path, w)
		}
		cmd := strings.Join(path, " ")
		if cmd == "" || seen[cmd] {
			continue
		}
		seen[cmd] = true
		out, err := exec.Command(bin, append(path, "--help")...).CombinedOutput()
		// an unknown subcommand prints its parent's help: the usage line names the command found
		usage := regexp.MustCompile(`(?m)^Usage:\n\s+sluice ` + regexp.QuoteMeta(cmd) + `( |$)`)
		if err != nil || !usage.Match(out) {
			t.Errorf("docs/operations.md tells the operator to run `sluice %s`, which sluice does not have (%v):\n%s", m[1], err, out)
		}
	}
	if len(seen) < 10 {
		t.Fatalf("only %d sluice commands found in docs/operations.md", len(seen))
	}
	alerts := string(doc)
	if i := strings.Index(alerts, "## Alerts and what to do"); i >= 0 {
		alerts = alerts[i:]
	} else {
		t.Fatal(`docs/operations.md has no "## Alerts and what to do" section`)
	}
	for _, route := range []string{"/webhooks/deliveries", "/deposits", "/wallet/", "/withdrawal/status", "/withdrawals"} {
		if strings.Contains(alerts, route) {
			t.Errorf("a runbook uses %s of the merchant API, which needs a merchant's API key the operator does not hold: use the CLI", route)
		}
	}
}
