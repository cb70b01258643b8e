//go:build !(linux && (386 || amd64 || arm64))

package bpfcpu

import (
	"errors"
	"runtime"
)

// load fails: the BPF object is built for Linux on 386, amd64 and arm64
// only (see gen.go).
func load(uint32) (source, error) {
	return nil, errors.New("no BPF object for " + runtime.GOOS + "/" + runtime.GOARCH)
}
