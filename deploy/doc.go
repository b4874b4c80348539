// Package deploy holds what runs sluice outside this repository: the
// Prometheus scrape config and alerting rules in prometheus/, and the
// Grafana dashboards and provisioning in grafana/. Its tests check the rules
// and every dashboard query with promtool (which `sluice stack up`
// installs), and have a real Prometheus scrape a running `sluice serve` for
// every metric the dashboards and alerts use.
package deploy
