package testenv

import (
	"os"
	"strings"
)

// SluiceEnv is the environment for a sluice command a test runs: this
// process's, less SLUICE_CONFIG (tests say what they mean through
// variables), with overrides KEY=VALUE applied; KEY= removes KEY.
func SluiceEnv(overrides ...string) []string {
	m := map[string]string{}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	delete(m, "SLUICE_CONFIG")
	for _, kv := range overrides {
		k, v, _ := strings.Cut(kv, "=")
		if v == "" {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	return out
}
