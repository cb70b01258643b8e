// Package porttest finds a free TCP port for a test that must pass a port
// number, not a listener, to what it starts (a child process, a server
// that listens itself).
//
// It is a test helper: import it from _test.go files (and other test
// helpers) only.
package porttest

import (
	"net"
	"testing"
)

// Free returns a TCP port on 127.0.0.1 that was free a moment ago: it
// listens on port 0, reads the port the kernel chose and closes the
// listener. Another process may take the port before the caller does.
func Free(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port
}
