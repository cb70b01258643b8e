// Package citest holds the one rule that says whether tests run under
// continuous integration, and what a test does there when something it
// needs is missing: locally it skips, under CI it fails, since CI must
// really run it.
//
// It is a test helper: import it from _test.go files (and other test
// helpers) only.
package citest

import (
	"os"
	"testing"
)

// Running reports whether the tests run under CI: the CI environment
// variable is set to anything but "", "false" or "0". GitHub Actions,
// GitLab CI and most other services set CI=true.
func Running() bool {
	ci := os.Getenv("CI")
	return ci != "" && ci != "false" && ci != "0"
}

// Missing ends a test that cannot run because msg says something it needs
// is missing: it skips t, or fails it under CI.
func Missing(t testing.TB, msg string) {
	t.Helper()
	if Running() {
		t.Fatal(msg + " (CI is set: the test must run)")
	}
	t.Skip(msg)
}
