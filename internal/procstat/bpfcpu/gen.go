package bpfcpu

// The BPF object and its Go bindings are generated from bpf/cputime.c by
// bpf2go and committed, so that a build needs no clang; `make generate`
// rebuilds them (clang and the libbpf headers: Debian's clang, llvm and
// libbpf-dev packages).
//go:generate go tool bpf2go -go-package bpfcpu -tags linux -target amd64,arm64 -type key -type delta -type exit_event -type running -cflags "-O2 -g -Wall -Werror" cputime bpf/cputime.c
