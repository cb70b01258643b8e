package machine

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// CPUInfo is the text of /proc/cpuinfo split into processor blocks
// (Linux fs/proc, arch/x86/kernel/cpu/proc.c, arch/arm64/kernel/cpuinfo.c:
// blocks of "key : value" lines, one block per logical CPU, separated by
// blank lines). Keys and values are kept as text, in file order, so each
// user reads what it needs with its own rules; the counts every user
// shares are methods.
//
// It is parsed here rather than with prometheus/procfs because procfs
// picks its cpuinfo parser by GOARCH: an x86 fixture would not parse on an
// arm64 test machine, nor an Arm one on amd64, and the estimate sensor and
// the msr sensor must read both.
type CPUInfo struct {
	Processors []Processor
}

// Processor is one block of /proc/cpuinfo.
type Processor struct {
	Fields []Field
}

// Field is one "key : value" line, both trimmed of surrounding space.
type Field struct {
	Key, Value string
}

// Get returns the value of the block's first field named key.
func (p Processor) Get(key string) (string, bool) {
	for _, f := range p.Fields {
		if f.Key == key {
			return f.Value, true
		}
	}
	return "", false
}

// ParseCPUInfo parses the text of /proc/cpuinfo. Lines without a colon
// are skipped; empty blocks are not kept. It fails only when r fails.
func ParseCPUInfo(r io.Reader) (CPUInfo, error) {
	var ci CPUInfo
	var cur Processor
	flush := func() {
		if len(cur.Fields) > 0 {
			ci.Processors = append(ci.Processors, cur)
		}
		cur = Processor{}
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			flush()
			continue
		}
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		cur.Fields = append(cur.Fields, Field{strings.TrimSpace(key), strings.TrimSpace(val)})
	}
	if err := sc.Err(); err != nil {
		return CPUInfo{}, fmt.Errorf("read cpuinfo: %w", err)
	}
	flush()
	return ci, nil
}

// Threads is the number of "processor" lines: logical CPUs, or vCPUs in a
// virtual machine.
func (ci CPUInfo) Threads() int {
	n := 0
	for _, p := range ci.Processors {
		for _, f := range p.Fields {
			if f.Key == "processor" {
				n++
			}
		}
	}
	return n
}

// Sockets is the number of distinct "physical id" values, 0 when no block
// has one (Arm, some guests).
func (ci CPUInfo) Sockets() int {
	ids := map[string]bool{}
	for _, p := range ci.Processors {
		if id, ok := p.Get("physical id"); ok {
			ids[id] = true
		}
	}
	return len(ids)
}

// Cores is the number of distinct ("physical id", "core id") pairs, 0 when
// no block has a core id.
func (ci CPUInfo) Cores() int {
	cores := map[[2]string]bool{}
	for _, p := range ci.Processors {
		core, ok := p.Get("core id")
		if !ok {
			continue
		}
		phys, _ := p.Get("physical id")
		cores[[2]string{phys, core}] = true
	}
	return len(cores)
}

// Hypervisor reports whether a "flags" line has "hypervisor": the kernel
// runs as a guest (x86 CPUID leaf 1, ECX bit 31).
func (ci CPUInfo) Hypervisor() bool {
	for _, p := range ci.Processors {
		for _, f := range p.Fields {
			if f.Key == "flags" && hasField(f.Value, "hypervisor") {
				return true
			}
		}
	}
	return false
}

func hasField(list, word string) bool {
	for _, f := range strings.Fields(list) {
		if f == word {
			return true
		}
	}
	return false
}
