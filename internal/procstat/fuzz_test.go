package procstat

import (
	"bytes"
	"testing"
)

// FuzzParseStat: any /proc/<pid>/stat content parses or fails cleanly; a
// parsed comm is the text between the first '(' and the last ')'.
func FuzzParseStat(f *testing.F) {
	f.Add([]byte("1234 (bash) S 1 1234 1234 34816 1234 4194304 1 2 3 4 150 25 7 3 20 0 1 0 98765 1000 100 18446744073709551615\n"))
	f.Add([]byte("42 (a) b) (c) R 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23\n"))
	f.Add([]byte("7 () Z 0 0 0 0 0 0 0 0 0 0 18446744073709551615 18446744073709551615 0 0 0 0 0 0 1\n"))
	f.Add([]byte("(x)"))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := parseStat(b)
		if err != nil {
			return
		}
		if got.PID < 0 || got.PID > 1<<31 {
			t.Errorf("pid %d out of range", got.PID)
		}
		if !bytes.Contains(b, got.Comm) {
			t.Errorf("comm %q not in the input", got.Comm)
		}
	})
}

// FuzzParseCPUTimes: /proc/stat content parses or fails, never panics.
func FuzzParseCPUTimes(f *testing.F) {
	f.Add([]byte("cpu  10 2 30 400 5 6 7 8 0 0\ncpu0 5 1 15 200 2 3 3 4 0 0\nintr 1\n"))
	f.Add([]byte("cpu 1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = parseCPUTimes(b)
	})
}
