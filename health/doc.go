// Package health checks the dependencies of a sluice process (ClickHouse,
// Postgres, Redis, each configured node) in parallel with a timeout each,
// for /readyz and the sluice_dependency_up metric.
package health
