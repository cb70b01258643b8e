package promexp

import (
	"path/filepath"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/procinfo"
)

// maxLabelBytes bounds the label values that come from the machine (exe,
// comm, VM names), whatever --process.cmdline-length says: a path is at
// most PATH_MAX, but a label that long helps no one.
const maxLabelBytes = 1024

// procLabels are one process lifetime's label values, made once when the
// process enters the exposed set.
type procLabels struct {
	pid, exe, comm, cmdline string
	// scaphExe is Scaphandre's exe label: the executable's base name.
	scaphExe string
}

func newProcLabels(k procinfo.Key, m *procinfo.Meta, cmdlineMax int) procLabels {
	l := procLabels{pid: strconv.Itoa(k.PID)}
	if m == nil {
		return l
	}
	l.exe = sanitize(m.Exe, maxLabelBytes)
	l.comm = sanitize(m.Comm, maxLabelBytes)
	l.cmdline = sanitize(m.Cmdline, cmdlineMax)
	switch {
	case l.exe != "":
		l.scaphExe = filepath.Base(l.exe)
	default:
		l.scaphExe = l.comm
	}
	return l
}

// ellipsis marks a truncated label value.
const ellipsis = "…"

// sanitize makes s a label value: valid UTF-8 (invalid bytes become
// U+FFFD), control and format characters (C0, DEL, C1, bidirectional
// overrides, zero-width marks) turned into spaces, trailing space trimmed,
// and at most max bytes (max <= 0: no limit), cut on a rune boundary and
// ending in "…" when cut.
func sanitize(s string, max int) string {
	if needsCleaning(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
		s = strings.Map(func(r rune) rune {
			if unsafeRune(r) {
				return ' '
			}
			return r
		}, s)
	}
	s = strings.TrimRight(s, " ")
	if max <= 0 || len(s) <= max {
		return s
	}
	if max <= len(ellipsis) {
		return truncate(s, max)
	}
	return truncate(s, max-len(ellipsis)) + ellipsis
}

// unsafeRune reports whether r is a control or format character: one
// that can move a terminal's cursor or reorder the text around it.
func unsafeRune(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Cf, r)
}

// needsCleaning reports whether s has invalid UTF-8 or a control or
// format character.
func needsCleaning(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f || c >= utf8.RuneSelf {
			return !utf8.ValidString(s) || strings.ContainsFunc(s, unsafeRune)
		}
	}
	return false
}

// truncate cuts valid UTF-8 s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// sourceLabel is the source label of a figure: measured unless estimated.
func sourceLabel(s power.Source) string {
	if s == power.Estimated {
		return string(power.Estimated)
	}
	return string(power.Measured)
}

// socketLabel is a zone's socket label: its index, or "" when it has none.
func socketLabel(socket int) string {
	if socket < 0 {
		return ""
	}
	return strconv.Itoa(socket)
}
