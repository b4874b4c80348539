package config

import (
	"errors"
	"strings"
	"testing"
)

// Values of the wrong type are all reported with file, line and key, and the
// rest of the file is still decoded and validated in the same run.
func TestWrongTypesAllAtOnce(t *testing.T) {
	body := good + `sweeps:
  confirmations: fast
  enabled: maybe
  fee_addresses: [bcrt1q]
  withdrawal_minimum:
    BTC: {a: 1}
webhooks:
  timeout: soon
  allow_private_targets: loopback
indexer:
  workers: 999
`
	_, err := Load(write(t, body), noEnv)
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("want *Error, got %v", err)
	}
	got := map[string]Problem{}
	for _, p := range e.Problems {
		got[p.Key] = p
	}
	for _, w := range []struct {
		key  string
		line int
		msg  string
	}{
		{"sweeps.confirmations", 23, `"fast" is not an integer`},
		{"sweeps.enabled", 24, `"maybe" is not true or false`},
		{"sweeps.fee_addresses", 25, "a list is not a map"},
		{"sweeps.withdrawal_minimum.BTC", 27, "a map is not a string"},
		{"webhooks.timeout", 29, `"soon" is not a duration`},
		{"webhooks.allow_private_targets", 30, `"loopback" is not a list`},
		{"indexer.workers", 32, "must be from 1 to 256"}, // validation, in the same run
	} {
		p, ok := got[w.key]
		if !ok {
			t.Errorf("no problem for %s in %v", w.key, err)
			continue
		}
		if p.Line != w.line || !strings.HasSuffix(p.File, "sluice.yaml") || !strings.Contains(p.Msg, w.msg) {
			t.Errorf("%s: got %s, want line %d and %q", w.key, p, w.line, w.msg)
		}
		if strings.Contains(p.Msg, "unmarshal") {
			t.Errorf("%s: yaml.v3's words: %s", w.key, p)
		}
	}
	// the default stands in for a value of the wrong type: no second problem
	if n := strings.Count(err.Error(), "sweeps.confirmations"); n != 1 {
		t.Errorf("sweeps.confirmations reported %d times: %v", n, err)
	}
	// file problems first, in file order
	if e.Problems[0].Key != "sweeps.confirmations" || e.Problems[len(e.Problems)-1].Key != "indexer.workers" {
		t.Errorf("order: %v", err)
	}
}

func TestNotAMap(t *testing.T) {
	_, err := Load(write(t, "- a\n- b\n"), noEnv)
	if err == nil || !strings.Contains(err.Error(), "sluice.yaml:1: the file must be a map of sections") {
		t.Fatalf("got %v", err)
	}
}

// A Check's problems come out with Load's own, located the same way: at the
// key's line, or naming the variable that set it.
func TestChecksLocated(t *testing.T) {
	cause := errors.New("not on this network")
	check := func(c *Config) []Problem {
		var ps []Problem
		for _, cur := range []string{"BTC", "ETH"} {
			if c.Sweeps.FeeAddresses[cur] != "" {
				ps = append(ps, NewProblem("sweeps.fee_addresses."+cur, cause))
			}
		}
		return ps
	}
	body := good + "sweeps:\n  fee_addresses:\n    BTC: bc1q\n"
	env := map[string]string{"SLUICE_FEE_ADDRESS_ETH": "0x1", "SLUICE_LOG_LEVEL": "loud"}
	_, err := Load(write(t, body), func(k string) string { return env[k] }, check)
	if err == nil {
		t.Fatal("want an error")
	}
	for _, w := range []string{
		"sluice.yaml:24: sweeps.fee_addresses.BTC: not on this network",
		"SLUICE_FEE_ADDRESS_ETH (sweeps.fee_addresses.ETH): not on this network",
		"SLUICE_LOG_LEVEL (log.level): unknown level",
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%v lacks %q", err, w)
		}
	}
	if !errors.Is(err, cause) {
		t.Error("the check's cause is lost")
	}
}
