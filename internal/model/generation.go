package model

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// What a model name still tells when the CPU has no table row: its
// generation from the vendor's model-number scheme, its base frequency
// ("@ 2.33GHz") and whether it is a low-power part (Intel "L", AMD
// "HE"/"EE"). The numbering schemes are the vendors' (Intel processor
// numbers: https://www.intel.com/content/www/us/en/processors/processor-numbers.html;
// AMD Opteron and EPYC model numbering as on AMD's product pages); each
// rule names the generation in its comment.

// numberRule maps a model-number pattern on the normalised name to an
// architecture. The first rule that matches wins; arch is called with the
// submatches and returns "" when the number is not of that scheme.
type numberRule struct {
	vendor string
	re     *regexp.Regexp
	arch   func(m []string) string
	what   string
}

var numberRules = []numberRule{
	// Xeon E3/E5/E7 with an optional version: E5 v1/v2 Sandy/Ivy
	// Bridge-EP, v3 Haswell, v4 Broadwell; E7 without version is
	// Westmere-EX; E3 v1/v2 Sandy/Ivy Bridge, v3-v6 Haswell-Kaby Lake.
	{VendorIntel, regexp.MustCompile(`\b(e[357])-\d{4}[a-z]*(?:v(\d))?\b`), func(m []string) string {
		v, _ := strconv.Atoi(m[2])
		switch {
		case m[1] == "e3" && v <= 2:
			return "sandybridge"
		case m[1] == "e3":
			return "haswell-client"
		case m[1] == "e7" && v == 0:
			return "nehalem-ex"
		case v <= 2:
			return "sandybridge-ep"
		case v == 3:
			return "haswell-ep"
		}
		return "broadwell-ep"
	}, "Xeon E3/E5/E7 version"},
	// Xeon E-2100/2200 Coffee Lake, E-2300 Rocket Lake, E-2400 Raptor Lake.
	{VendorIntel, regexp.MustCompile(`\be-2(\d)\d\d[a-z]*\b`), func(m []string) string {
		switch m[1] {
		case "1", "2":
			return "coffeelake"
		case "3":
			return "rocketlake"
		}
		return "raptorlake"
	}, "Xeon E-2000 series"},
	// Xeon D-1500 Broadwell-DE, D-2100 Skylake-D, D-1700/2700 Ice Lake-D.
	{VendorIntel, regexp.MustCompile(`\b(?:xeon-)?d[- ](\d)(\d)\d\d[a-z]*\b`), func(m []string) string {
		switch {
		case m[1] == "1" && m[2] == "5":
			return "broadwell-ep"
		case m[1] == "2" && m[2] == "1":
			return "skylake-sp"
		}
		return "icelake-d"
	}, "Xeon D series"},
	// Xeon Scalable: the second digit is the generation (1 Skylake,
	// 2 Cascade Lake, 3 Ice Lake, 4 Sapphire Rapids, 5 Emerald Rapids).
	{VendorIntel, regexp.MustCompile(`\b(?:platinum|gold|silver|bronze) \d([1-5])\d\d[a-z+]*`), scalable, "Xeon Scalable number"},
	// Xeon 6: 6500-6900 P (Granite Rapids) and E (Sierra Forest); 6300
	// entry parts (Raptor Lake).
	{VendorIntel, regexp.MustCompile(`\b6([3-9])\d\d([pe])[a-z]*\b`), func(m []string) string {
		switch {
		case m[1] == "3":
			return "raptorlake"
		case m[2] == "e":
			return "sierraforest"
		}
		return "graniterapids"
	}, "Xeon 6 number"},
	// Xeon Scalable numbers written without the tier ("Xeon 8480+").
	{VendorIntel, regexp.MustCompile(`\bxeon (?:processor )?8([1-5])\d\d[a-z+]*`), scalable, "Xeon Scalable number"},
	// Xeon before 2012, letter-prefixed four digits: 30xx-33xx Core 2
	// uniprocessor, 34xx Lynnfield; 50xx-54xx and 70xx-74xx NetBurst/Core 2
	// (Dempsey to Dunnington); 55xx/56xx, 65xx/75xx Nehalem/Westmere.
	{VendorIntel, regexp.MustCompile(`\bxeon (?:processor |cpu )?([lxewp]?)([3-7])(\d)\d\d[a-z]*\b`), func(m []string) string {
		switch d := m[2] + m[3]; {
		case d == "34":
			return "nehalem-up"
		case m[2] == "3":
			return "core2-up"
		case d == "55" || d == "56":
			return "nehalem"
		case d == "65" || d == "75":
			return "nehalem-ex"
		case m[2] == "5" || m[2] == "7":
			return "core2"
		}
		return ""
	}, "Xeon 3000/5000/7000 number"},
	// Core i3/i5/i7/i9: three digits first generation (Nehalem), four
	// digits 2xxx-3xxx Sandy/Ivy Bridge, 4xxx-7xxx Haswell-Kaby Lake,
	// 8xxx-9xxx Coffee Lake, five digits 10xxx Comet Lake, 11xxx Rocket or
	// Tiger Lake, 12xxx-14xxx Alder/Raptor Lake.
	{VendorIntel, regexp.MustCompile(`\bcore i[3579][ -](\d+)[a-z]*\b`), func(m []string) string {
		n := m[1]
		switch {
		case len(n) == 3:
			return "nehalem-up"
		case len(n) == 4 && n[0] <= '3':
			return "sandybridge"
		case len(n) == 4 && n[0] <= '7':
			return "haswell-client"
		case len(n) == 4:
			return "coffeelake"
		case strings.HasPrefix(n, "10"):
			return "cometlake"
		case strings.HasPrefix(n, "11"):
			return "intel-client"
		}
		return "raptorlake"
	}, "Core i number"},
	{VendorIntel, regexp.MustCompile(`\bcore ultra\b`), func([]string) string { return "intel-client" }, "Core Ultra"},
	{VendorIntel, regexp.MustCompile(`\bpentium d\b`), func([]string) string { return "core2-up" }, "Pentium D"},
	// Opteron: 2xxx/8xxx with second digit 2 K8, 3/4 K10; 4100/6100 K10;
	// 4200/4300/6200/6300 Bulldozer/Piledriver; three digits K8.
	{VendorAMD, regexp.MustCompile(`\bopteron(?: processor)? (\d)(\d)\d\d`), func(m []string) string {
		if (m[1] == "4" || m[1] == "6") && m[2] >= "2" {
			return "opteron-bd"
		}
		return "opteron-k10"
	}, "Opteron number"},
	{VendorAMD, regexp.MustCompile(`\bopteron(?: processor)? \d\d\d\b`), func([]string) string { return "opteron-k10" }, "Opteron number"},
	// EPYC: the last digit is the generation (7xx1 Naples, 7xx2 Rome,
	// 7xx3 Milan, 9xx4 Genoa, 97x4 Bergamo, 8xx4 Siena, 9xx5 Turin); 4xx4
	// and 4xx5 are the AM5 parts (Zen 4/5 client silicon).
	{VendorAMD, regexp.MustCompile(`\bepyc (\d)([0-9a-z])[0-9a-z](\d)`), func(m []string) string {
		switch {
		case m[1] == "4":
			return "zen-client"
		case m[3] == "1":
			return "naples"
		case m[3] == "2":
			return "rome"
		case m[3] == "3":
			return "milan"
		case m[3] == "5":
			return "turin"
		case m[1] == "8":
			return "siena"
		case m[1] == "9" && m[2] == "7":
			return "bergamo"
		case m[3] == "4":
			return "genoa"
		}
		return ""
	}, "EPYC number"},
	{VendorARM, regexp.MustCompile(`\baltra\b`), func([]string) string { return "neoverse-n1" }, "Ampere Altra"},
	{VendorARM, regexp.MustCompile(`\bgrace\b`), func([]string) string { return "neoverse-v2" }, "NVIDIA Grace"},
	{VendorARM, regexp.MustCompile(`\bcortex[ -]a\d+`), func([]string) string { return "arm-other" }, "Arm Cortex"},
}

func scalable(m []string) string {
	return map[string]string{"1": "skylake-sp", "2": "cascadelake-sp", "3": "icelake-sp", "4": "sapphirerapids", "5": "emeraldrapids"}[m[1]]
}

// archFromNumber finds the generation from the model number in a
// normalised name.
func archFromNumber(vendor, name string) (id, how string, ok bool) {
	for _, r := range numberRules {
		if vendor != "" && r.vendor != vendor {
			continue
		}
		m := r.re.FindStringSubmatch(name)
		if m == nil {
			continue
		}
		if id := r.arch(m); id != "" {
			return id, fmt.Sprintf("%s %q", r.what, strings.TrimSpace(m[0])), true
		}
	}
	return "", "", false
}

var ghzInName = regexp.MustCompile(`(\d+(?:\.\d+)?) ?ghz`)

// baseGHz returns the base frequency written in a model name ("Intel(R)
// Xeon(R) CPU E5345 @ 2.33GHz"), or 0.
func baseGHz(name string) float64 {
	m := ghzInName.FindStringSubmatch(strings.ToLower(name))
	if m == nil {
		return 0
	}
	f, err := strconv.ParseFloat(m[1], 64)
	if err != nil || f < 0.3 || f > 8 {
		return 0
	}
	return f
}

var (
	intelLow = regexp.MustCompile(`\bl\d{4}\b|\b(?:e[357]-)\d{4}l|\bd-\d{4}[a-z]*l\b`)
	amdLow   = regexp.MustCompile(`\b\d{4} ?(?:he|ee)\b`)
)

// LowPowerPart reports whether the model name marks a low-power part of
// the vendor (lowPower, on the name as Lookup normalises it).
func LowPowerPart(vendor, name string) bool { return lowPower(vendor, normalise(name)) }

// lowPower reports whether the name marks a low-power part: Intel's "L"
// prefix (L5420) or suffix (E5-2650L, E3-1265L v2), AMD's "HE" and "EE".
func lowPower(vendor, name string) bool {
	switch vendor {
	case VendorIntel:
		return intelLow.MatchString(name)
	case VendorAMD:
		return amdLow.MatchString(name)
	}
	return false
}

// oneThreadPerCore lists the architectures whose parts mostly have no
// SMT, for counting cores from threads when the core count is unknown.
var oneThreadPerCore = map[string]bool{
	"core2": true, "core2-up": true, "opteron-k10": true, "opteron-bd": true, "sierraforest": true,
	"neoverse-n1": true, "neoverse-v1": true, "neoverse-v2": true, "arm-other": true,
}

func threadsPerCore(archID string) int {
	if oneThreadPerCore[archID] {
		return 1
	}
	return 2
}
