package model

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// CPU is one row of the embedded CPU table: a processor model and the facts
// the power model needs, with the place they were read.
type CPU struct {
	Keys    []string // model-number tokens matched in a model name
	Name    string   // marketing name
	Arch    string   // Arch.ID
	Cores   int      // per socket
	Threads int      // per socket
	TDP     float64  // watts per socket
	Source  string   // where Cores, Threads and TDP were read
}

// Match is the outcome of looking a CPU up: the row (or synthesised
// fallback row) the model will use and how it was found.
type Match struct {
	CPU  CPU
	Arch Arch
	// Exact is true when a table row matched the model name. Otherwise
	// CPU holds per-thread figures of the architecture (or vendor)
	// median, and Threads is the median threads per socket.
	Exact bool
	// How says in words which row matched and why.
	How string
	// Hint says how the architecture was found when Exact is false.
	Hint string
	// GHz is the base frequency (Query.BaseMHz, else written in the
	// name), 0 when unknown; LowPower marks a low-power part. Set only
	// when Exact is false.
	GHz      float64
	LowPower bool
}

// Query is what is known about a CPU: at least a model name; the cpuinfo
// vendor_id, family, model and stepping, and the Arm part, when read from
// a machine.
type Query struct {
	Name     string
	VendorID string // "GenuineIntel", "AuthenticAMD", "" when unknown
	Family   int
	Model    int
	Stepping int
	ARMPart  string // "0xd0c" etc.; "" when not an Arm CPU
	// BaseMHz is the nominal frequency when known from elsewhere than
	// the name (a SPECpower disclosure); 0 takes it from the name.
	BaseMHz float64
}

// CPUs returns a copy of the embedded table.
func CPUs() []CPU {
	out := make([]CPU, 0, len(cpuTable)+len(cpuTableAMD))
	out = append(out, cpuTable...)
	return append(out, cpuTableAMD...)
}

// Lookup finds the table row for a CPU. The order is: an exact model
// number within the vendor; an architecture named in a generic model name
// (QEMU CPU models); the Arm part or x86 family/model; the generation from
// the vendor's model-number scheme; the vendor; a generic default. It never
// fails: the last resort is the generic row. A match without a table row
// also carries the base frequency and low-power mark the name gives.
func Lookup(q Query) Match {
	vendor := vendorOf(q)
	name := normalise(q.Name)
	if row, ok := exactRow(vendor, name); ok {
		a, _ := ArchByID(row.Arch)
		return Match{CPU: row, Arch: a, Exact: true, How: fmt.Sprintf("table row %q (%s)", row.Name, row.Source)}
	}
	m := fallbackMatch(q, name, vendor)
	m.GHz = q.BaseMHz / 1000
	if m.GHz <= 0 {
		m.GHz = baseGHz(q.Name)
	}
	m.LowPower = lowPower(m.Arch.Vendor, name)
	return m
}

func fallbackMatch(q Query, name, vendor string) Match {
	if id, how, ok := archHint(q, name, vendor); ok {
		return fallback(id, how)
	}
	switch vendor {
	case VendorIntel:
		return fallback("intel-server", "vendor Intel, model not in table")
	case VendorAMD:
		return fallback("amd-server", "vendor AMD, model not in table")
	case VendorARM:
		return fallback("arm-other", "Arm, model not in table")
	}
	return fallback("unknown", "CPU not recognised")
}

// archHint finds the architecture without a table row.
func archHint(q Query, name, vendor string) (id, how string, ok bool) {
	for _, h := range nameHints {
		if strings.Contains(name, h.substr) {
			return h.arch, fmt.Sprintf("architecture %q named in model name", h.substr), true
		}
	}
	if q.ARMPart != "" {
		if id, ok := armParts[strings.ToLower(q.ARMPart)]; ok {
			return id, "Arm CPU part " + q.ARMPart, true
		}
	}
	if q.Family != 0 {
		if id, ok := archFromX86(vendor, q.Family, q.Model, q.Stepping); ok {
			return id, fmt.Sprintf("cpuinfo family %#x model %#x", q.Family, q.Model), true
		}
	}
	return archFromNumber(vendor, name)
}

// fallback synthesises a row from the medians of the table rows of an
// architecture (or of its vendor's server rows, or of all server rows).
func fallback(archID, how string) Match {
	a, _ := ArchByID(archID)
	rows := rowsOf(func(r CPU) bool { return r.Arch == archID })
	scope := a.Name + " rows"
	if len(rows) == 0 {
		rows = rowsOf(func(r CPU) bool { return classOf(r) == a.Class && (a.Vendor == "" || vendorOfArch(r.Arch) == a.Vendor) })
		scope = a.Class + " rows"
		if a.Vendor != "" {
			scope = a.Vendor + " " + scope
		}
	}
	perThread, threads := medians(rows)
	row := CPU{
		Name:    a.Name,
		Arch:    archID,
		Threads: int(threads),
		TDP:     perThread * threads,
		Source:  fmt.Sprintf("median of %d %s of the table: %.2f W TDP per thread, %d threads per socket", len(rows), scope, perThread, int(threads)),
	}
	return Match{CPU: row, Arch: a, How: how + "; " + row.Source, Hint: how}
}

func classOf(r CPU) string {
	a, _ := ArchByID(r.Arch)
	return a.Class
}

func vendorOfArch(id string) string {
	a, _ := ArchByID(id)
	return a.Vendor
}

func rowsOf(keep func(CPU) bool) []CPU {
	var out []CPU
	for _, r := range CPUs() {
		if keep(r) {
			out = append(out, r)
		}
	}
	return out
}

// medians returns the median TDP per thread and median threads per socket.
func medians(rows []CPU) (perThread, threads float64) {
	if len(rows) == 0 {
		return 0, 0
	}
	pt := make([]float64, len(rows))
	th := make([]float64, len(rows))
	for i, r := range rows {
		pt[i] = r.TDP / float64(r.Threads)
		th[i] = float64(r.Threads)
	}
	return median(pt), median(th)
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// exactRow returns the row whose longest key occurs in name as a whole
// token, among the rows of the vendor.
func exactRow(vendor, name string) (CPU, bool) {
	var best CPU
	bestLen := 0
	for _, r := range CPUs() {
		if vendor != "" && vendorOfArch(r.Arch) != vendor {
			continue
		}
		for _, k := range r.Keys {
			if len(k) > bestLen && containsToken(name, k) {
				best, bestLen = r, len(k)
			}
		}
	}
	return best, bestLen > 0
}

// containsToken reports whether key occurs in s with no token character
// (letter, digit, '+') immediately before or after it.
func containsToken(s, key string) bool {
	for i := 0; ; {
		j := strings.Index(s[i:], key)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(key)
		if (start == 0 || !tokenChar(s[start-1])) && (end == len(s) || !tokenChar(s[end])) {
			return true
		}
		i = start + 1
	}
}

func tokenChar(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '+'
}

var (
	trademarks = strings.NewReplacer("(r)", " ", "(tm)", " ", "®", " ", "™", " ", ",", " ")
	versionGap = regexp.MustCompile(`([0-9a-z]) (v\d)\b`)
	spaces     = regexp.MustCompile(`\s+`)
)

// normalise lower-cases a model name, drops trademark signs, and writes
// "E5-2699 v4" as "e5-2699v4".
func normalise(name string) string {
	s := trademarks.Replace(strings.ToLower(name))
	s = spaces.ReplaceAllString(strings.TrimSpace(s), " ")
	return versionGap.ReplaceAllString(s, "$1$2")
}

// vendorOf decides the vendor from cpuinfo's vendor_id, else the name.
func vendorOf(q Query) string {
	switch q.VendorID {
	case "GenuineIntel":
		return VendorIntel
	case "AuthenticAMD":
		return VendorAMD
	}
	if q.ARMPart != "" {
		return VendorARM
	}
	n := strings.ToLower(q.Name)
	switch {
	case strings.Contains(n, "intel") || strings.Contains(n, "xeon") || strings.Contains(n, "core(tm)"):
		return VendorIntel
	case strings.Contains(n, "amd") || strings.Contains(n, "epyc") || strings.Contains(n, "ryzen"):
		return VendorAMD
	case strings.Contains(n, "ampere") || strings.Contains(n, "altra") || strings.Contains(n, "graviton") || strings.Contains(n, "neoverse") ||
		strings.Contains(n, "grace") || strings.Contains(n, "cortex") || strings.HasPrefix(n, "arm "):
		return VendorARM
	}
	return ""
}

func splitKeys(keys string) []string { return strings.Split(keys, "|") }
