//go:build !linux

package stdout

import "io"

// terminalFD never finds a terminal off Linux: output is plain text.
func terminalFD(io.Writer) (int, bool) { return -1, false }

func terminalWidth(int) (int, bool) { return 0, false }
