# bindpay — the Makefile is the menu: `make help` lists the targets.

GO       ?= go
BIN      := bin
VERSION  := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
GOFLAGS_BUILD := -trimpath -ldflags "$(LDFLAGS)"
# Short fuzz runs that are part of `make test` (seconds each).
FUZZTIME ?= 20000x

.PHONY: help build test check fmt-check vet unit fuzz tidy-check demo clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 14

build: ## build bin/bindpay-agent and bin/bindpay-netsim for this machine
	@mkdir -p $(BIN)
	$(GO) build $(GOFLAGS_BUILD) -o $(BIN)/bindpay-agent ./cmd/agent
	$(GO) build $(GOFLAGS_BUILD) -o $(BIN)/bindpay-netsim ./cmd/netsim

test: fmt-check vet unit fuzz ## what CI runs: gofmt check, go vet, all tests with -race (end-to-end included), short fuzz runs

check: test tidy-check ## test, plus a check that go.mod and go.sum are tidy

fmt-check: ## fail if any Go file needs gofmt
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet: ## go vet
	$(GO) vet ./...

unit: ## go test -race ./... (includes the end-to-end tests over a pty)
	$(GO) test -race -count=1 ./...

fuzz: ## short runs of every fuzz test (FUZZTIME each: an iteration count, as duration limits hit a Go 1.26 fuzz coordinator bug)
	FUZZTIME=$(FUZZTIME) GO=$(GO) ./scripts/fuzz.sh

tidy-check: ## fail if go mod tidy would change go.mod or go.sum
	$(GO) mod tidy -diff

demo: build ## the whole activation flow on the simulated network, on this machine
	./scripts/demo.sh

clean: ## remove build outputs
	rm -rf $(BIN)
