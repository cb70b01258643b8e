package promexp

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSanitize(t *testing.T) {
	tests := []struct {
		name, in string
		max      int
		want     string
	}{
		{"plain", "stress-ng --cpu 2", 256, "stress-ng --cpu 2"},
		{"no limit", strings.Repeat("a", 300), 0, strings.Repeat("a", 300)},
		{"trailing space", "sleep 10 ", 256, "sleep 10"},
		{"invalid utf-8", "a\xffb", 256, "a\uFFFDb"},
		{"control characters", "a\nb\tc\x7fd", 256, "a b c d"},
		{"escape and bell", "\x1b[31mred\a", 256, " [31mred"},
		{"bidi override and zero-width", "evil\u202egnp.exe\u200b!", 256, "evil gnp.exe !"},
		{"cut with ellipsis", "abcdefghij", 8, "abcde…"},
		{"cut on a rune boundary", "aéééé", 7, "aé…"},
		{"tiny limit", "abcdef", 2, "ab"},
		{"tiny limit mid-rune", "éé", 3, "é"},
		{"exactly the limit", "abcdefgh", 8, "abcdefgh"},
		{"unicode kept", "日本語 python3", 256, "日本語 python3"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := sanitize(tc.in, tc.max)
			if got != tc.want {
				t.Errorf("sanitize(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
			}
			if !utf8.ValidString(got) {
				t.Errorf("sanitize(%q) = %q is not valid UTF-8", tc.in, got)
			}
			if tc.max > 0 && len(got) > tc.max {
				t.Errorf("sanitize(%q, %d) is %d bytes", tc.in, tc.max, len(got))
			}
		})
	}
}

func FuzzSanitize(f *testing.F) {
	for _, s := range []string{"", "abc", "a\xffb", "éé", "\x00\x01"} {
		f.Add(s, 5)
	}
	f.Fuzz(func(t *testing.T, s string, max int) {
		max %= 300
		got := sanitize(s, max)
		if !utf8.ValidString(got) {
			t.Fatalf("sanitize(%q, %d) = %q: invalid UTF-8", s, max, got)
		}
		if max > 0 && len(got) > max {
			t.Fatalf("sanitize(%q, %d) = %q: %d bytes", s, max, got, len(got))
		}
	})
}

func TestDomainID(t *testing.T) {
	for in, want := range map[string]string{"intel-rapl:0:1": "1", "intel-rapl:0": "0", "estimate": "estimate"} {
		if got := domainID(in); got != want {
			t.Errorf("domainID(%q) = %q, want %q", in, got, want)
		}
	}
}
