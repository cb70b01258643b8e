package powercap

import (
	"bytes"
	"strconv"
	"testing"
)

// FuzzParseMicrojoules: energy_uj or max_energy_range_uj content parses to
// exactly the decimal number it spells (surrounding white space allowed),
// or fails: nothing beyond 64 bits, no sign, no other character.
func FuzzParseMicrojoules(f *testing.F) {
	for _, s := range []string{"123456789\n", "0\n", "18446744073709551615\n", "18446744073709551616\n", "-1\n", "", " 42 ", "1e6\n", "0x10\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := parseMicrojoules(b)
		want, werr := strconv.ParseUint(string(bytes.TrimSpace(b)), 10, 64)
		if (err != nil) != (werr != nil) || err == nil && v != want {
			t.Errorf("parseMicrojoules(%q) = %d, %v; strconv says %d, %v", b, v, err, want, werr)
		}
	})
}
