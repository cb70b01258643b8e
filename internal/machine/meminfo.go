package machine

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ParseMemTotal returns MemTotal from the text of /proc/meminfo
// (Documentation/filesystems/proc.rst: "MemTotal: Total usable RAM"), in
// bytes.
func ParseMemTotal(r io.Reader) (uint64, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || key != "MemTotal" {
			continue
		}
		f := strings.Fields(val)
		if len(f) == 0 {
			break
		}
		kb, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("meminfo: MemTotal %q: %w", val, err)
		}
		if len(f) > 1 && f[1] != "kB" {
			return 0, fmt.Errorf("meminfo: MemTotal unit %q, want kB", f[1])
		}
		return kb * 1024, nil
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("read meminfo: %w", err)
	}
	return 0, fmt.Errorf("meminfo: no MemTotal line")
}
