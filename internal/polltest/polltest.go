// Package polltest waits, in tests, for something that happens on another
// goroutine or in another process: it polls a condition until it holds and
// fails the test when it has not held in time. The deadline only bounds a
// failing test; a passing one returns as soon as the condition holds.
//
// It is a test helper: import it from _test.go files (and other test
// helpers) only.
package polltest

import (
	"testing"
	"time"
)

// Unit tests wait at most Timeout, polling every Interval.
const (
	Timeout  = 10 * time.Second
	Interval = 5 * time.Millisecond
)

// Until calls cond every Interval until it returns true, and fails t with
// what when it has not within Timeout.
func Until(t testing.TB, what string, cond func() bool) {
	t.Helper()
	Within(t, Timeout, Interval, what, cond)
}

// Within calls cond every interval until it returns true, and fails t
// with what when it has not within timeout: for end-to-end tests, whose
// conditions take longer and cost more to check. cond runs on the
// caller's goroutine, so it may itself fail t (a watched process that
// exited, for instance).
func Within(t testing.TB, timeout, interval time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(interval)
	}
}
