# sluice: two commands on a fresh machine.
#   make run    build, bring up the local stack, migrate, serve (foreground)
#   make test   a separate test stack, go vet, gofmt, staticcheck, every test with -race, tear down
GO      ?= go
SLUICE  := var/bin/sluice
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
export GOFLAGS ?= -buildvcs=false

.PHONY: all build run test vet stack-up stack-down fmt clean

all: build

build:
	@mkdir -p var/bin
	$(GO) build -ldflags "-X main.version=$(VERSION) -X main.commit=$(COMMIT)" -o $(SLUICE) ./cmd/sluice

run: build
	bash scripts/run.sh

test: build
	bash scripts/test.sh

vet:
	$(GO) vet ./...

stack-up: build
	$(SLUICE) stack up

stack-down: build
	$(SLUICE) stack down

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	-$(SLUICE) stack down
	-$(SLUICE) stack down --dir var/teststack
	rm -rf var
