package hwmon

import (
	"strconv"
	"testing"
)

// FuzzParseValue: a hwmon value file's content is the integer it spells,
// a negative one is 0, anything else an error.
func FuzzParseValue(f *testing.F) {
	for _, s := range []string{"123456", "0", "-5", "18446744073709551615", "18446744073709551616", "1.5", "", "-9223372036854775809"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := parseValue(s)
		if err != nil {
			if _, uerr := strconv.ParseUint(s, 10, 64); uerr == nil {
				t.Errorf("parseValue(%q): %v, but it is a valid unsigned", s, err)
			}
			return
		}
		if u, uerr := strconv.ParseUint(s, 10, 64); uerr == nil && u != v {
			t.Errorf("parseValue(%q) = %d, want %d", s, v, u)
		}
		if i, ierr := strconv.ParseInt(s, 10, 64); ierr == nil && i < 0 && v != 0 {
			t.Errorf("parseValue(%q) = %d, want a negative clamped to 0", s, v)
		}
	})
}
