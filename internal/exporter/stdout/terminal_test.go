//go:build linux

package stdout

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"
)

// openPTY returns both ends of a new pseudo-terminal (pty(7)), the
// terminal side set to cols columns; it skips the test where there is none.
func openPTY(t *testing.T, cols uint16) (master, tty *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { _ = m.Close() })
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Skipf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Skipf("ptsname: %v", err)
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("open pts: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	// Raw output: no newline translation, so what is read is what was written.
	tio, err := unix.IoctlGetTermios(int(s.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	tio.Oflag &^= unix.OPOST
	if err := unix.IoctlSetTermios(int(s.Fd()), unix.TCSETS, tio); err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetWinsize(int(s.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 40, Col: cols}); err != nil {
		t.Fatal(err)
	}
	return m, s
}

func TestExporterOnATerminal(t *testing.T) {
	master, tty := openPTY(t, 70)
	x := New(tty, Options{Processes: 3, Width: 500})
	if x.term < 0 {
		t.Fatal("a pseudo-terminal not taken for a terminal")
	}
	if err := x.Export(context.Background(), fixture()); err != nil {
		t.Fatal(err)
	}
	want := clearScreen + renderString(t, fixture(), Options{Processes: 3, Width: 70})
	_ = master.SetReadDeadline(time.Now().Add(10 * time.Second)) // a pty is pollable; if not, no deadline
	got := make([]byte, 0, len(want))
	buf := make([]byte, 4096)
	for len(got) < len(want) {
		n, err := master.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, buf[:n]...)
	}
	if !bytes.Equal(got, []byte(want)) {
		t.Errorf("terminal output:\n%q\nwant:\n%q", got, want)
	}
	for _, l := range strings.Split(strings.TrimPrefix(string(got), clearScreen), "\n") {
		if utf8.RuneCountInString(l) > 70 {
			t.Errorf("line wider than the terminal: %q", l)
		}
	}
}
