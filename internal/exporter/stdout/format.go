package stdout

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/wattlens/wattlens/internal/units"
)

// formatPower writes p with a unit that keeps three or four significant
// digits: 1.23 kW, 123.4 W, 12.34 W, 512.0 mW, 35 µW.
func formatPower(p units.Power) string {
	w := p.Watts()
	switch {
	case p == 0:
		return "0 W"
	case w >= 1000:
		return fmt.Sprintf("%.2f kW", w/1000)
	case w >= 100:
		return fmt.Sprintf("%.1f W", w)
	case w >= 1:
		return fmt.Sprintf("%.2f W", w)
	case p >= units.Milliwatt:
		return fmt.Sprintf("%.1f mW", w*1000)
	}
	return strconv.FormatUint(p.Microwatts(), 10) + " µW"
}

// formatEnergy writes e in J, kJ, Wh or kWh as it grows (µJ and mJ
// below a joule).
func formatEnergy(e units.Energy) string {
	j := e.Joules()
	switch {
	case e == 0:
		return "0 J"
	case e < units.Millijoule:
		return strconv.FormatUint(e.Microjoules(), 10) + " µJ"
	case e < units.Joule:
		return fmt.Sprintf("%.1f mJ", j*1000)
	case j < 1000:
		return fmt.Sprintf("%.2f J", j)
	case j < 100_000:
		return fmt.Sprintf("%.2f kJ", j/1000)
	case j < 3_600_000:
		return fmt.Sprintf("%.1f Wh", j/3600)
	}
	return fmt.Sprintf("%.2f kWh", j/3_600_000)
}

// Sanitize makes a string that a process chose (its name, command line,
// executable path) safe to print on a terminal: every byte that is not
// valid UTF-8 and every rune that is not printable — control characters
// such as ESC, tabs and newlines, C1 controls, bidirectional overrides and
// other format characters, non-ASCII spaces — is written as a Go escape
// (\x1b, \u202e), so nothing a process names itself can move the cursor,
// recolour the screen or reorder the text around it.
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
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unicode.IsPrint(r):
			b.WriteRune(r)
		case r < 0x80:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
		i += size
	}
	return b.String()
}

// truncate cuts s to at most n runes, marking the cut with an ellipsis.
func truncate(s string, n int) string {
	if n <= 0 || utf8.RuneCountInString(s) <= n {
		return s
	}
	if n == 1 {
		return "…"
	}
	i, count := 0, 0
	for i = range s {
		if count == n-1 {
			break
		}
		count++
	}
	return s[:i] + "…"
}

// truncateLeft cuts s to at most n runes from the left, keeping its end
// (the file name of a long path).
func truncateLeft(s string, n int) string {
	count := utf8.RuneCountInString(s)
	if n <= 1 || count <= n {
		return s
	}
	drop := count - (n - 1)
	i := 0
	for range drop {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return "…" + s[i:]
}

// table lays out rows in aligned columns, two spaces apart. The last
// column is never padded and is cut to fit the line width; the others are
// padded to their widest cell, left- or right-aligned.
type table struct {
	right []bool // per column: right-aligned (figures)
	rows  [][]string
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

const gap = 2

// minLast is the least room the last column gets, however narrow the line.
const minLast = 16

// write writes the table, each line starting with indent and cut to width
// runes (0: no limit): the last column gets what the others leave, at
// least minLast runes, and a line that is still too wide is cut.
func (t *table) write(b *bytes.Buffer, indent string, width int) {
	ncol := len(t.right)
	widths := make([]int, ncol)
	for _, row := range t.rows {
		for c := 0; c < ncol-1 && c < len(row); c++ {
			widths[c] = max(widths[c], utf8.RuneCountInString(row[c]))
		}
	}
	budget := 0
	if width > 0 {
		budget = width - utf8.RuneCountInString(indent)
		for c := range ncol - 1 {
			budget -= widths[c] + gap
		}
		budget = max(budget, minLast)
	}
	var line strings.Builder
	for _, row := range t.rows {
		line.Reset()
		line.WriteString(indent)
		for c := range ncol {
			cell := ""
			if c < len(row) {
				cell = row[c]
			}
			if c == ncol-1 {
				line.WriteString(truncate(cell, budget))
				break
			}
			pad := strings.Repeat(" ", widths[c]-utf8.RuneCountInString(cell))
			if t.right[c] {
				line.WriteString(pad + cell)
			} else {
				line.WriteString(cell + pad)
			}
			line.WriteString("  ")
		}
		l := strings.TrimRight(line.String(), " ")
		if width > 0 {
			l = truncate(l, width) // the other columns alone are too wide
		}
		b.WriteString(l)
		b.WriteByte('\n')
	}
}
