// Package config is sluice's typed configuration: one YAML file plus
// SLUICE_* environment overrides, with defaults and validation that names
// the file, line and key of every mistake.
package config
