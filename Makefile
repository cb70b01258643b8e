# wattlens — make targets. `make test` is what CI runs (.ci/run).
GO              ?= go
GOLANGCI_LINT   ?= $(shell go env GOPATH)/bin/golangci-lint
GOLANGCI_VER    ?= v2.15.0
BIN             ?= bin/wattlens
# go-nvml's header marks some calls deprecated; the warnings are not ours.
export CGO_CFLAGS ?= -Wno-deprecated-declarations

.PHONY: all build test test-setup unit e2e fuzz-short lint bench perf generate manifests clean

all: build

# -buildvcs=auto: --version names the commit even where GOFLAGS says otherwise.
build:
	$(GO) build -buildvcs=auto -o $(BIN) ./cmd/wattlens

# Installs what the end-to-end tests use (Debian's prometheus,
# prometheus-pushgateway, qemu-system-x86, docker.io, podman and
# busybox-static; test/setup-*.sh), starts dockerd and podman's API and
# imports a busybox image offline, then runs every test with the race
# detector. CI runs exactly this.
# The end-to-end tests measure power against simulated truths that follow
# this machine's real CPU time, so they run on their own, after the other
# packages, not beside them.
test: test-setup
	$(GO) test -race -count=1 -timeout 15m $$($(GO) list ./... | grep -v '/test/e2e$$')
	$(GO) test -race -count=1 -timeout 15m ./test/e2e/
	$(MAKE) fuzz-short

# Every fuzz target for FUZZTIME (5s) each: parsers of /proc, cgroup paths,
# qemu command lines, powercap and hwmon values, the VM share, Docker and
# kubelet answers, the web config. Seeds: f.Add and testdata/fuzz/.
FUZZTIME ?= 5s
fuzz-short:
	FUZZTIME=$(FUZZTIME) GO=$(GO) bash test/fuzz-short.sh

test-setup:
	bash test/setup.sh

unit:
	$(GO) test -race -count=1 -short ./...

e2e: test-setup
	$(GO) test -race -count=1 -timeout 15m ./test/...

lint:
	@test -x $(GOLANGCI_LINT) || $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_VER)
	gofmt -l . | (! grep .) || (echo "gofmt would change the files above" && false)
	$(GO) vet ./...
	$(GOLANGCI_LINT) run ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./...

# The whole-agent benchmark (bench/agentperf, not run by CI): wattlens as a
# running process beside the procfs floor, with 2 000 and 10 000 sleeping
# processes. PERF_FLAGS passes flags, e.g. PERF_FLAGS='-rounds 3'.
perf: build
	$(GO) build -o bin/floor ./bench/floor
	$(GO) build -o bin/agentperf ./bench/agentperf
	$(GO) build -o bin/fakerapl ./internal/sensor/powercap/powercaptest/cmd/fakerapl
	./bin/agentperf -bin $(BIN) $(PERF_FLAGS)

# Regenerates the committed generated files: docs/metrics.md,
# docs/estimation-error.md, and the eBPF CPU source's BPF objects and Go
# bindings (internal/procstat/bpfcpu, bpf2go), which need clang,
# llvm-strip and the libbpf headers: apt-get install clang llvm libbpf-dev.
# Builds without clang use the committed objects.
generate:
	@command -v clang >/dev/null || { echo "make generate needs clang, llvm and libbpf-dev (Debian: apt-get install clang llvm libbpf-dev)"; exit 1; }
	$(GO) generate ./...

# Renders deploy/kubernetes/ from the Helm chart.
manifests:
	$(MAKE) -C deploy manifests

clean:
	rm -rf bin
