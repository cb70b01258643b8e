package perfrapl

import (
	"strings"
	"testing"
)

// FuzzParse: the parsers of cpumask, format and event files never panic,
// and a CPU list they accept is sorted, without duplicates, bounded.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"0", "0,28", "0-3,8", "event=0x02", "config:0-7", "event=0x3c,umask=1", "", "-", "1-0", "0-99999"} {
		f.Add(s)
	}
	format := map[string]bitField{"event": {0, 7}, "umask": {8, 15}}
	f.Fuzz(func(t *testing.T, s string) {
		if cpus, err := parseCPUList(s); err == nil {
			if len(cpus) == 0 || len(cpus) > maxCPUs {
				t.Fatalf("parseCPUList(%q): %d CPUs", s, len(cpus))
			}
			for i := 1; i < len(cpus); i++ {
				if cpus[i] <= cpus[i-1] {
					t.Fatalf("parseCPUList(%q) = %v: not sorted", s, cpus)
				}
			}
		}
		_, _ = parseEventSpec(s, format)
		if f, err := parseFormat(s); err == nil && (f.hi < f.lo || f.hi > 63 || !strings.HasPrefix(s, "config:")) {
			t.Fatalf("parseFormat(%q) = %+v", s, f)
		}
	})
}
