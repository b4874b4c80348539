// Package api is sluice's HTTP edge (gin): health and readiness probes and
// Prometheus metrics now, the merchant, receive and explorer APIs as they land.
package api
