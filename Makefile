# bindpay — the Makefile is the menu: `make help` lists the targets.

GO       ?= go
BIN      := bin
VERSION  := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
# Build tags: `make cross TAGS=fb` (or build/package) adds the framebuffer
# display, left out of the common binary (DESIGN.md: heavy optional parts).
TAGS     ?=
GOFLAGS_BUILD := -trimpath -tags "$(TAGS)" -ldflags "$(LDFLAGS)"
# Short fuzz runs that are part of `make test` (seconds each).
FUZZTIME ?= 20000x

.PHONY: help build test test-long test-pg check fmt-check vet unit fuzz tidy-check test-fb lint demo clean cross package test-cross deploy-check

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 14

build: ## build bin/bindpay-agent, bin/bindpay-platform and bin/bindpay-netsim for this machine
	@mkdir -p $(BIN)
	$(GO) build $(GOFLAGS_BUILD) -o $(BIN)/bindpay-agent ./cmd/agent
	$(GO) build $(GOFLAGS_BUILD) -o $(BIN)/bindpay-platform ./cmd/platform
	$(GO) build $(GOFLAGS_BUILD) -o $(BIN)/bindpay-netsim ./cmd/netsim

test: fmt-check vet unit fuzz ## what CI runs: gofmt check, go vet, all tests with -race (end-to-end included), short fuzz runs

# Iterations of the kill -9 end-to-end test in test-long (make test runs 10).
KILL_ITERATIONS ?= 200

test-long: test ## test, then the kill -9 e2e test at full length (BINDPAY_KILL_SEED=n replays a run)
	BINDPAY_KILL_ITERATIONS=$(KILL_ITERATIONS) $(GO) test -race -count=1 -timeout 15m -run '^TestKillDuringActivation$$' ./e2e

test-pg: ## the store and platform tests on a throwaway PostgreSQL cluster (as .ci/run starts it; installs Debian's postgresql if missing)
	bash -c '. .ci/postgres.sh && trap stop_test_postgres EXIT && start_test_postgres && $(GO) test -race -count=1 ./internal/server/... ./cmd/platform'

check: test tidy-check test-fb lint ## test, plus tidy go.mod/go.sum (both modules), the -tags fb build vetted and tested, and staticcheck

fmt-check: ## fail if any Go file needs gofmt
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet: ## go vet
	$(GO) vet ./...

unit: ## go test -race ./... (includes the end-to-end tests over a pty)
	$(GO) test -race -count=1 ./...

fuzz: ## short runs of every fuzz test (FUZZTIME each: an iteration count, as duration limits hit a Go 1.26 fuzz coordinator bug)
	FUZZTIME=$(FUZZTIME) GO=$(GO) ./scripts/fuzz.sh

tidy-check: ## fail if go mod tidy would change go.mod or go.sum (the main module and tools/)
	$(GO) mod tidy -diff
	$(GO) -C tools mod tidy -diff

STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

lint: ## staticcheck (its unused-code check included) over the module, fetched from the module proxy
	$(GO) run $(STATICCHECK) ./...

test-fb: ## the agent built with the framebuffer (-tags fb): vet, and the tests of the packages it changes
	$(GO) vet -tags fb ./cmd/agent ./internal/display/...
	$(GO) build -tags fb -o /dev/null ./cmd/agent
	$(GO) test -race -count=1 -tags fb ./cmd/agent ./internal/display/...

demo: build ## the whole activation flow on the simulated network, on this machine
	./scripts/demo.sh

clean: ## remove build outputs
	rm -rf $(BIN) dist

# --- Ship it: cross builds, packages, arm tests under qemu, deploy checks ---
DIST     := dist
# OpenWrt names package architectures by CPU: set these to the target image's
# (opkg print-architecture on the device), e.g. arm_cortex-a7_neon-vfpv4.
IPK_ARCH_ARM    ?= arm_cortex-a7
IPK_ARCH_ARM64  ?= aarch64_generic
IPK_ARCH_MIPSLE ?= mipsel_24kc
# Package file times: the last commit's, so that packages are reproducible.
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null)
CROSS_ENV := CGO_ENABLED=0 GOOS=linux
PKG      = SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) $(BIN)/pkg -version $(VERSION) -out $(DIST)

cross: ## static agents for linux/arm (GOARM=7), linux/arm64, linux/mipsle (softfloat) into dist/
	@mkdir -p $(DIST)
	$(CROSS_ENV) GOARCH=arm GOARM=7 $(GO) build $(GOFLAGS_BUILD) -o $(DIST)/bindpay-agent_linux_armv7 ./cmd/agent
	$(CROSS_ENV) GOARCH=arm64 $(GO) build $(GOFLAGS_BUILD) -o $(DIST)/bindpay-agent_linux_arm64 ./cmd/agent
	$(CROSS_ENV) GOARCH=mipsle GOMIPS=softfloat $(GO) build $(GOFLAGS_BUILD) -o $(DIST)/bindpay-agent_linux_mipsle ./cmd/agent

package: cross ## agent .deb (amd64, arm64, armhf, mipsel) and .ipk (OpenWrt arm, aarch64, mipsel), platform .deb (amd64, arm64) into dist/, with nfpm
	$(CROSS_ENV) GOARCH=amd64 $(GO) build $(GOFLAGS_BUILD) -o $(DIST)/bindpay-agent_linux_amd64 ./cmd/agent
	$(CROSS_ENV) GOARCH=amd64 $(GO) build $(GOFLAGS_BUILD) -o $(DIST)/bindpay-platform_linux_amd64 ./cmd/platform
	$(CROSS_ENV) GOARCH=arm64 $(GO) build $(GOFLAGS_BUILD) -o $(DIST)/bindpay-platform_linux_arm64 ./cmd/platform
	@mkdir -p $(BIN)
	$(GO) -C tools build -o ../$(BIN)/pkg ./pkg
	rm -f $(DIST)/*.deb $(DIST)/*.ipk
	$(PKG) -packager deb -arch amd64  -binary $(DIST)/bindpay-agent_linux_amd64
	$(PKG) -packager deb -arch arm64  -binary $(DIST)/bindpay-agent_linux_arm64
	$(PKG) -packager deb -arch armhf  -binary $(DIST)/bindpay-agent_linux_armv7
	$(PKG) -packager deb -arch mipsel -binary $(DIST)/bindpay-agent_linux_mipsle
	$(PKG) -packager ipk -arch $(IPK_ARCH_ARM)    -binary $(DIST)/bindpay-agent_linux_armv7
	$(PKG) -packager ipk -arch $(IPK_ARCH_ARM64)  -binary $(DIST)/bindpay-agent_linux_arm64
	$(PKG) -packager ipk -arch $(IPK_ARCH_MIPSLE) -binary $(DIST)/bindpay-agent_linux_mipsle
	$(PKG) -spec deploy/pkg/platform-nfpm.yaml -packager deb -arch amd64 -binary $(DIST)/bindpay-platform_linux_amd64
	$(PKG) -spec deploy/pkg/platform-nfpm.yaml -packager deb -arch arm64 -binary $(DIST)/bindpay-platform_linux_arm64

test-cross: ## every package's tests built for linux/arm (GOARM=7) and run under qemu-user
	GO=$(GO) tools/test-cross.sh

deploy-check: package ## systemd-analyze verify, exposure <= 2.0 (both units), package contents, config keys, udev rule, OpenWrt and platform .deb scripts
	cd tools && $(GO) test -count=1 ./...
	DIST=$(DIST) deploy/test/check.sh

# --- Performance, against DESIGN.md's targets and beside smsd and gammu-smsd ---
.PHONY: bench

bench: ## measure the agent against DESIGN.md's targets, beside smsd and gammu-smsd (installs them if missing; ~3 min); writes bench/results.md, fails on a missed target
	./bench/deps.sh
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/bindpay-bench ./bench
	$(BIN)/bindpay-bench -go $(GO) -version $(VERSION) -out bench/results.md
