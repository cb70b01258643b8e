//go:build linux

package stdout

import (
	"io"

	"golang.org/x/sys/unix"
)

// fder is what *os.File offers to find its descriptor.
type fder interface{ Fd() uintptr }

// terminalFD returns w's file descriptor when w is a terminal: a file
// whose termios can be read (TCGETS, termios(3)), as isatty(3) decides.
func terminalFD(w io.Writer) (int, bool) {
	f, ok := w.(fder)
	if !ok {
		return -1, false
	}
	fd := int(f.Fd())
	if _, err := unix.IoctlGetTermios(fd, unix.TCGETS); err != nil {
		return -1, false
	}
	return fd, true
}

// terminalWidth returns the terminal's width in columns (TIOCGWINSZ,
// tty_ioctl(4)).
func terminalWidth(fd int) (int, bool) {
	ws, err := unix.IoctlGetWinsize(fd, unix.TIOCGWINSZ)
	if err != nil || ws.Col == 0 {
		return 0, false
	}
	return int(ws.Col), true
}

// IsTerminal reports whether w is a terminal, for commands that show
// progress only to a person watching.
func IsTerminal(w io.Writer) bool {
	_, ok := terminalFD(w)
	return ok
}
