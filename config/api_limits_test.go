package config

import (
	"strings"
	"testing"
	"time"
)

// TestAPILimitsDefaults: a config that says nothing of them gets the
// per-IP limits and the HTTP server timeouts.
func TestAPILimitsDefaults(t *testing.T) {
	c, err := Load(write(t, good), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	a := c.API
	if a.UnauthenticatedLimit != 60 || a.FailedAuthLimit != 30 || a.FailedAuthBlock != 5*time.Minute || a.IPLimitWindow != time.Minute {
		t.Errorf("limit defaults: %+v", a)
	}
	if a.ReadHeaderTimeout != 10*time.Second || a.ReadTimeout != 30*time.Second || a.WriteTimeout != time.Minute ||
		a.IdleTimeout != 2*time.Minute || a.MaxHeaderBytes != 64<<10 {
		t.Errorf("server defaults: %+v", a)
	}
	c, err = Load(write(t, strings.Replace(good, "api:\n", "api:\n  unauthenticated_limit: -1\n  read_timeout: 2s\n  read_header_timeout: 1s\n", 1)), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if c.API.UnauthenticatedLimit != -1 || c.API.ReadTimeout != 2*time.Second || c.API.ReadHeaderTimeout != time.Second {
		t.Errorf("set values: %+v", c.API)
	}
}

// TestAPILimitsValidated: nonsense limits and timeouts are named.
func TestAPILimitsValidated(t *testing.T) {
	for _, c := range []struct{ yaml, key string }{
		{"  failed_auth_limit: -2\n", "api.failed_auth_limit"},
		{"  unauthenticated_limit: -5\n", "api.unauthenticated_limit"},
		{"  ip_limit_window: 1500ms\n", "api.ip_limit_window"},
		{"  ip_limit_window: 200ms\n", "api.ip_limit_window"},
		{"  failed_auth_block: 10ms\n", "api.failed_auth_block"},
		{"  write_timeout: -1s\n", "api.write_timeout"},
		{"  read_header_timeout: 1m\n  read_timeout: 10s\n", "api.read_header_timeout"},
		{"  max_header_bytes: 100\n", "api.max_header_bytes"},
	} {
		_, err := Load(write(t, strings.Replace(good, "api:\n", "api:\n"+c.yaml, 1)), noEnv)
		if err == nil || !strings.Contains(err.Error(), c.key) {
			t.Errorf("%q: %v, want a problem with %s", c.yaml, err, c.key)
		}
	}
}
