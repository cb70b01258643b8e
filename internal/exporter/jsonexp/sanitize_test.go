package jsonexp

import "testing"

func TestSanitize(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"stress-ng --cpu 2", "stress-ng --cpu 2"},
		{"\x1b[31mred\a", "\uFFFD[31mred\uFFFD"},
		{"evil\u202egnp.exe", "evil\uFFFDgnp.exe"},
		{"a\u0085b\u200bc", "a\uFFFDb\uFFFDc"},
		{"a\xffb", "a\uFFFDb"},
		{"a\tb\nc", "a b c"},
		{"café ☕ 日本語", "café ☕ 日本語"},
	} {
		if got := Sanitize(tt.in); got != tt.want {
			t.Errorf("Sanitize(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
