package stdout

import (
	"bytes"
	"testing"

	"github.com/wattlens/wattlens/internal/units"
)

func TestFormatPower(t *testing.T) {
	tests := []struct {
		p    units.Power
		want string
	}{
		{0, "0 W"},
		{35, "35 µW"},
		{units.Milliwatt, "1.0 mW"},
		{512_340, "512.3 mW"},
		{units.Watt, "1.00 W"},
		{12_345_678, "12.35 W"},
		{123_456_789, "123.5 W"},
		{1_234_567_890, "1.23 kW"},
	}
	for _, tt := range tests {
		if got := formatPower(tt.p); got != tt.want {
			t.Errorf("formatPower(%d µW) = %q, want %q", tt.p, got, tt.want)
		}
	}
}

func TestFormatEnergy(t *testing.T) {
	tests := []struct {
		e    units.Energy
		want string
	}{
		{0, "0 J"},
		{999, "999 µJ"},
		{units.Millijoule, "1.0 mJ"},
		{400_000, "400.0 mJ"},
		{units.Joule, "1.00 J"},
		{999_994_999, "999.99 J"},
		{1000 * units.Joule, "1.00 kJ"},
		{99_990 * units.Joule, "99.99 kJ"},
		{100_000 * units.Joule, "27.8 Wh"},
		{3_600_000 * units.Joule, "1.00 kWh"},
	}
	for _, tt := range tests {
		if got := formatEnergy(tt.e); got != tt.want {
			t.Errorf("formatEnergy(%d µJ) = %q, want %q", tt.e, got, tt.want)
		}
	}
}

func TestSanitize(t *testing.T) {
	tests := map[string]string{
		"plain /usr/bin/x --flag=1": "plain /usr/bin/x --flag=1",
		"\x1b[31mred":               `\x1b[31mred`,
		"a\tb\nc\rd":                `a\x09b\x0ac\x0dd`,
		"\x7f\x00":                  `\x7f\x00`,
		"\u009b1m":                  `\u009b1m`,
		"\x9b1m":                    `\x9b1m`,
		"abc\u202edef":              `abc\u202edef`,
		"nbsp\u00a0x":               `nbsp\u00a0x`,
		"café ✓ 日本":                 "café ✓ 日本",
		"\ufffd":                    "\ufffd",
	}
	for in, want := range tests {
		if got := Sanitize(in); got != want {
			t.Errorf("Sanitize(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTruncate(t *testing.T) {
	tests := []struct {
		s     string
		n     int
		right string // truncate
		left  string // truncateLeft
	}{
		{"abcdef", 10, "abcdef", "abcdef"},
		{"abcdef", 6, "abcdef", "abcdef"},
		{"abcdef", 4, "abc…", "…def"},
		{"été à", 3, "ét…", "… à"},
		{"abcdef", 1, "…", "abcdef"},
		{"abcdef", 0, "abcdef", "abcdef"},
	}
	for _, tt := range tests {
		if got := truncate(tt.s, tt.n); got != tt.right {
			t.Errorf("truncate(%q, %d) = %q, want %q", tt.s, tt.n, got, tt.right)
		}
		if got := truncateLeft(tt.s, tt.n); got != tt.left {
			t.Errorf("truncateLeft(%q, %d) = %q, want %q", tt.s, tt.n, got, tt.left)
		}
	}
}

func TestTable(t *testing.T) {
	tb := table{right: []bool{true, false, false}}
	tb.add("1.00 W", "ab", "a long last column that must be cut")
	tb.add("123.4 W", "abcdef", "short")
	tb.add("x")
	var b bytes.Buffer
	tb.write(&b, "  ", 38)
	want := "" +
		"   1.00 W  ab      a long last column…\n" + // 38 runes
		"  123.4 W  abcdef  short\n" +
		"        x\n"
	if b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}
}
