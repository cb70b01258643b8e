package machine

import (
	"strings"
	"testing"
)

func TestParseMemTotal(t *testing.T) {
	tests := []struct {
		name, text string
		want       uint64
		wantErr    bool
	}{
		{"normal", "MemTotal:       24684084 kB\nMemFree:  1 kB\n", 24684084 * 1024, false},
		{"missing", "MemFree:  1 kB\n", 0, true},
		{"bad number", "MemTotal: lots kB\n", 0, true},
		{"bad unit", "MemTotal: 12 MB\n", 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseMemTotal(strings.NewReader(tc.text))
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("ParseMemTotal = %d, %v; want %d, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}
