package ascii

import "testing"

func TestIsDigits(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"empty", "", false},
		{"one digit", "0", true},
		{"several", "0123456789", true},
		{"leading zero", "007", true},
		{"sign", "-1", false},
		{"plus", "+1", false},
		{"space", "1 ", false},
		{"letter", "12a", false},
		{"colon", "0:1", false},
		{"non-ASCII digit", "١٢", false},
		{"fullwidth digit", "１", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsDigits(tt.in); got != tt.want {
				t.Errorf("IsDigits(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestIsLowerHex(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want bool
	}{
		{"", false},
		{"0", true},
		{"0123456789abcdef", true},
		{"00f1a2b3", true},
		{"ABCDEF", false},
		{"0x1f", false},
		{"12g4", false},
		{"ab cd", false},
	} {
		if got := IsLowerHex(tt.in); got != tt.want {
			t.Errorf("IsLowerHex(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
