package jsonexp

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Sanitize is the JSON exporter's rule for strings a process chose (its
// executable, name, command line, VM name): valid UTF-8 on one line (tab,
// newline, vertical tab, form feed and carriage return become spaces, as
// the /proc reader makes them), and every other control or format character — C0 such as ESC and BEL, DEL, C1, bidirectional
// overrides, zero-width marks — replaced by U+FFFD, so that a consumer
// printing the string on a terminal cannot be made to move the cursor,
// recolour the screen or reorder the text (docs/exporters.md).
func Sanitize(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return s // printable ASCII: the common case
	}
	s = strings.ToValidUTF8(s, string(utf8.RuneError))
	return strings.Map(func(r rune) rune {
		switch r {
		case '\t', '\n', '\v', '\f', '\r':
			return ' '
		}
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return utf8.RuneError
		}
		return r
	}, s)
}
