// Package deploy holds what runs sluice outside this repository: the
// Prometheus scrape config and alerting rules in prometheus/. Its test checks
// them with promtool, which `sluice stack up` installs.
package deploy
