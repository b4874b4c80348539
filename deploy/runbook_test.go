package deploy

import (
	"os"
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
