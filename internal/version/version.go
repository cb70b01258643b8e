// Package version holds the build's version, set at link time:
//
//	go build -ldflags "-X github.com/wattlens/wattlens/internal/version.Version=v0.1.0"
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Version is the release; "dev" for a plain build.
var Version = "dev"

// Revision returns the VCS revision the binary was built from, if known.
func Revision() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				return s.Value
			}
		}
	}
	return "unknown"
}

// String is the --version line.
func String() string {
	return fmt.Sprintf("wattlens %s (revision %s, %s)", Version, Revision(), runtime.Version())
}
