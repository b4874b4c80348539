package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestRatesDefaults(t *testing.T) {
	c, err := Load(write(t, good), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Rates.Sources, DefaultRateSources()) || c.Rates.MaxAge != 10*time.Minute || c.Rates.Refresh != time.Minute {
		t.Fatalf("defaults %+v", c.Rates)
	}
}

func TestRatesFile(t *testing.T) {
	c, err := Load(write(t, good+`rates:
  sources:
    - {name: kraken, url: "http://127.0.0.1:27095"}
    - name: coinbase
  max_age: 5m
  refresh: 30s
`), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	want := []RateSource{{"kraken", "http://127.0.0.1:27095"}, {"coinbase", "https://api.coinbase.com"}}
	if !reflect.DeepEqual(c.Rates.Sources, want) || c.Rates.MaxAge != 5*time.Minute || c.Rates.Refresh != 30*time.Second {
		t.Fatalf("%+v", c.Rates)
	}
	// an empty list turns rates off
	c, err = Load(write(t, good+"rates:\n  sources: []\n"), noEnv)
	if err != nil || c.Rates.Sources == nil || len(c.Rates.Sources) != 0 {
		t.Fatalf("%+v %v", c.Rates, err)
	}
}

func TestRatesEnv(t *testing.T) {
	env := map[string]string{"SLUICE_RATES_SOURCES": "coingecko=http://127.0.0.1:27095, kraken", "SLUICE_RATES_MAX_AGE": "2m",
		"SLUICE_RATES_REFRESH": "15s"}
	c, err := Load(write(t, good), func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	want := []RateSource{{"coingecko", "http://127.0.0.1:27095"}, {"kraken", "https://api.kraken.com"}}
	if !reflect.DeepEqual(c.Rates.Sources, want) || c.Rates.MaxAge != 2*time.Minute || c.Rates.Refresh != 15*time.Second {
		t.Fatalf("%+v", c.Rates)
	}
	env = map[string]string{"SLUICE_RATES_SOURCES": "none"}
	if c, err = Load(write(t, good), func(k string) string { return env[k] }); err != nil || len(c.Rates.Sources) != 0 {
		t.Fatalf("%+v %v", c.Rates, err)
	}
	env = map[string]string{"SLUICE_RATES_SOURCES": "binance", "SLUICE_RATES_MAX_AGE": "soon"}
	_, err = Load(write(t, good), func(k string) string { return env[k] })
	if err == nil || !strings.Contains(err.Error(), `SLUICE_RATES_SOURCES (rates.sources[0].name): unknown source "binance" (one of: coingecko, kraken, coinbase)`) ||
		!strings.Contains(err.Error(), "SLUICE_RATES_MAX_AGE (rates.max_age): must be a duration") {
		t.Fatalf("%v", err)
	}
}

func TestRatesProblems(t *testing.T) {
	body := good + `rates:
  sources:
    - name: coingecko
      url: "ftp://prices.example"
    - {name: coingecko, url: "https://api.coingecko.com"}
    - {name: coingecko}
    - {name: binance, url: "https://api.binance.com"}
  max_age: 1m
  refresh: 2m
`
	path := write(t, body)
	_, err := Load(path, noEnv)
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("%v", err)
	}
	line := func(s string) int {
		for i, l := range strings.Split(body, "\n") {
			if strings.Contains(l, s) {
				return i + 1
			}
		}
		return -1
	}
	want := map[string]int{
		"rates.sources[0].url":  line("ftp://"),
		"rates.sources[2]":      line("- {name: coingecko}"),
		"rates.sources[3].name": line("binance"),
		"rates.refresh":         line("refresh: 2m"),
	}
	got := map[string]Problem{}
	for _, p := range ce.Problems {
		got[p.Key] = p
	}
	for key, l := range want {
		p, ok := got[key]
		if !ok || p.File != path || p.Line != l {
			t.Errorf("%s: want line %d, got %+v (all: %v)", key, l, p, err)
		}
	}
	if !strings.Contains(got["rates.sources[2]"].Msg, "listed twice") || !strings.Contains(got["rates.refresh"].Msg, "not shorter than rates.max_age") ||
		!strings.Contains(got["rates.sources[0].url"].Msg, `scheme "ftp" not supported`) {
		t.Errorf("%v", err)
	}
	if len(ce.Problems) != len(want) {
		t.Errorf("%d problems: %v", len(ce.Problems), err)
	}
}
