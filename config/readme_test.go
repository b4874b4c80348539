package config

import (
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestREADMEConfigurationComplete: the configuration block in README.md
// names every key of Config and no key Config lacks, and every SLUICE_*
// override, so a newcomer reading it sees all there is to set.
func TestREADMEConfigurationComplete(t *testing.T) {
	raw, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	_, after, ok := strings.Cut(readme, "## Configuration")
	if !ok {
		t.Fatal("README has no Configuration section")
	}
	_, after, ok = strings.Cut(after, "```yaml\n")
	block, _, ok2 := strings.Cut(after, "```")
	if !ok || !ok2 {
		t.Fatal("README's Configuration section has no yaml block")
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(block), &doc); err != nil {
		t.Fatalf("README's configuration block is not YAML: %v", err)
	}
	want := map[string]bool{}
	structKeys(reflect.TypeOf(Config{}), "", want)
	// chains.eth's coin is ETH: native is for chains.evm sections only
	for k := range want {
		if strings.HasPrefix(k, "chains.eth.native") {
			delete(want, k)
		}
	}
	got := map[string]bool{}
	nodeKeys(doc.Content[0], "", reflect.TypeOf(Config{}), got)
	var missing, unknown []string
	for k := range want {
		if !got[k] {
			missing = append(missing, k)
		}
	}
	for k := range got {
		if !want[k] {
			unknown = append(unknown, k)
		}
	}
	slices.Sort(missing)
	slices.Sort(unknown)
	if len(missing) > 0 {
		t.Errorf("README's configuration block lacks %s", strings.Join(missing, ", "))
	}
	if len(unknown) > 0 {
		t.Errorf("README's configuration block has keys Config does not: %s", strings.Join(unknown, ", "))
	}
	for _, ev := range EnvVars {
		if !strings.Contains(block, ev.Name) {
			t.Errorf("README's configuration block does not name %s (%s)", ev.Name, ev.Key)
		}
	}
}

// structKeys collects the dotted yaml keys of t; a map's keys are the
// user's, so a map is a leaf; a list of structs has its fields under key[].
func structKeys(t reflect.Type, prefix string, out map[string]bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		key := prefix + name
		out[key] = true
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch {
		case ft.Kind() == reflect.Struct && ft.PkgPath() == t.PkgPath():
			structKeys(ft, key+".", out)
		case ft.Kind() == reflect.Map && ft.Elem().Kind() == reflect.Pointer && ft.Elem().Elem().Kind() == reflect.Struct:
			structKeys(ft.Elem().Elem(), key+".*.", out) // sections by the operator's own keys
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			structKeys(ft.Elem(), key+"[].", out)
		}
	}
}

// nodeKeys collects the dotted keys of a YAML mapping the way structKeys
// names them, following t to know where maps (free keys) begin.
func nodeKeys(n *yaml.Node, prefix string, t reflect.Type, out map[string]bool) {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		name, v := n.Content[i].Value, n.Content[i+1]
		key := prefix + name
		out[key] = true
		var ft reflect.Type
		if t != nil && t.Kind() == reflect.Struct {
			for j := range t.NumField() {
				if tag, _, _ := strings.Cut(t.Field(j).Tag.Get("yaml"), ","); tag == name {
					ft = t.Field(j).Type
				}
			}
		}
		for ft != nil && ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch {
		case ft != nil && ft.Kind() == reflect.Map && ft.Elem().Kind() == reflect.Pointer:
			// sections by the operator's own keys (chains.evm.polygon)
			for j := 0; j+1 < len(v.Content); j += 2 {
				nodeKeys(v.Content[j+1], key+".*.", ft.Elem(), out)
			}
		case ft != nil && ft.Kind() == reflect.Map:
			// the operator's own keys (currencies): not config keys
		case v.Kind == yaml.SequenceNode:
			var et reflect.Type
			if ft != nil && ft.Kind() == reflect.Slice {
				et = ft.Elem()
			}
			for _, item := range v.Content {
				nodeKeys(item, key+"[].", et, out)
			}
		default:
			nodeKeys(v, key+".", ft, out)
		}
	}
}
