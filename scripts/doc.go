// Package scripts holds the shell scripts behind `make run`, `make test` and
// the API benchmark; its tests run them with a stand-in sluice binary.
package scripts
