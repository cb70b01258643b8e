package model

// Vendors as the table names them.
const (
	VendorIntel  = "Intel"
	VendorAMD    = "AMD"
	VendorAmpere = "Ampere"
	VendorAWS    = "AWS"
	VendorARM    = "ARM"
)

// Platform classes: the board, fans and power supply around the CPU. Entry
// machines (Xeon E/E3, desktop and laptop parts) have a much smaller board
// than two-socket servers, so they get their own fitted constants.
// Machines of 2006–2011 (Core 2, Nehalem/Westmere, Opteron) carry
// fully-buffered or registered DDR2/DDR3 DIMMs of 1–4 GB that draw several
// watts each, chipsets with their own memory controllers, and less
// efficient supplies: their board is fitted apart.
const (
	ClassServer    = "server"
	ClassEntry     = "entry"
	ClassServerOld = "server-2006"
	ClassEntryOld  = "entry-2006"
)

// Arch is a CPU micro-architecture and the coefficient groups it belongs to.
type Arch struct {
	ID     string // stable identifier, e.g. "cascadelake-sp"
	Name   string // human name, e.g. "Cascade Lake-SP"
	Vendor string
	// Idle names the group whose CPU idle fraction of TDP applies
	// (Params.IdleFrac); groups without enough published results fall
	// back to "default".
	Idle string
	// Shape names the load-curve shape group (Params.Shape).
	Shape string
	// Class is ClassServer or ClassEntry (Params.Board).
	Class string
	// CCF is the architecture name Cloud Carbon Footprint uses for its
	// per-vCPU coefficients; only the comparison in validate.go uses it.
	CCF string
}

// archs lists every micro-architecture the table knows. Generic rows at the
// end are used when only the vendor is known.
var archs = []Arch{
	{"core2", "Core 2 / NetBurst Xeon 5000/7000 (2006–2008)", VendorIntel, "intel-core2", "intel-server", ClassServerOld, ""},
	{"core2-up", "Core 2 uniprocessor Xeon 3000, Pentium D", VendorIntel, "intel-core2", "entry", ClassEntryOld, ""},
	{"nehalem", "Nehalem/Westmere-EP Xeon 5500/5600 (2009–2011)", VendorIntel, "intel-nehalem", "intel-server", ClassServerOld, ""},
	{"nehalem-ex", "Nehalem/Westmere-EX Xeon 6500/7500/E7 (2010–2011)", VendorIntel, "intel-nehalem", "intel-server", ClassServerOld, ""},
	{"nehalem-up", "Nehalem/Westmere uniprocessor Xeon 3400, Core i 1st gen", VendorIntel, "intel-nehalem", "entry", ClassEntryOld, ""},
	{"sandybridge-ep", "Sandy/Ivy Bridge-EP Xeon E5/E7 v1-v2 (2012–2013)", VendorIntel, "intel-snb", "intel-server", ClassServer, ""},
	{"sandybridge", "Sandy/Ivy Bridge Xeon E3 v1-v2, Core 2nd-3rd gen", VendorIntel, "intel-entry", "entry", ClassEntry, ""},
	{"haswell-client", "Haswell-Kaby Lake Xeon E3 v3-v6, Core 4th-7th gen", VendorIntel, "intel-entry", "entry", ClassEntry, "Haswell"},
	{"haswell-ep", "Haswell-EP", VendorIntel, "intel-e5", "intel-server", ClassServer, "Haswell"},
	{"broadwell-ep", "Broadwell-EP", VendorIntel, "intel-e5", "intel-server", ClassServer, "Broadwell"},
	{"skylake-sp", "Skylake-SP", VendorIntel, "intel-skx", "intel-server", ClassServer, "Skylake"},
	{"cascadelake-sp", "Cascade Lake-SP", VendorIntel, "intel-skx", "intel-server", ClassServer, "Cascade Lake"},
	{"cooperlake-sp", "Cooper Lake-SP", VendorIntel, "intel-skx", "intel-server", ClassServer, "Cascade Lake"},
	{"icelake-sp", "Ice Lake-SP", VendorIntel, "intel-icx", "intel-server", ClassServer, "Ice Lake"},
	{"icelake-d", "Ice Lake-D", VendorIntel, "intel-icx", "intel-server", ClassServer, "Ice Lake"},
	{"sapphirerapids", "Sapphire Rapids", VendorIntel, "intel-spr", "intel-server", ClassServer, "Sapphire Rapids"},
	{"emeraldrapids", "Emerald Rapids", VendorIntel, "intel-spr", "intel-server", ClassServer, "Emerald Rapids"},
	{"graniterapids", "Granite Rapids", VendorIntel, "intel-xeon6", "intel-server", ClassServer, "Granite Rapids"},
	{"sierraforest", "Sierra Forest", VendorIntel, "intel-xeon6", "intel-server", ClassServer, "Granite Rapids"},
	{"kabylake", "Kaby Lake", VendorIntel, "intel-entry", "entry", ClassEntry, "Coffee Lake"},
	{"coffeelake", "Coffee Lake", VendorIntel, "intel-entry", "entry", ClassEntry, "Coffee Lake"},
	{"cometlake", "Comet Lake", VendorIntel, "intel-entry", "entry", ClassEntry, "Coffee Lake"},
	{"rocketlake", "Rocket Lake", VendorIntel, "intel-entry", "entry", ClassEntry, "Coffee Lake"},
	{"raptorlake", "Alder/Raptor Lake", VendorIntel, "intel-entry", "entry", ClassEntry, "Coffee Lake"},
	{"intel-client", "Intel desktop/laptop (model not in table)", VendorIntel, "intel-entry", "entry", ClassEntry, "Coffee Lake"},
	{"opteron-k10", "Opteron K8/K10 (2000/4100/6100/8000 series, 2006–2010)", VendorAMD, "amd-opteron", "amd-server", ClassServerOld, ""},
	{"opteron-bd", "Opteron Bulldozer/Piledriver (4200/4300/6200/6300, 2011–2013)", VendorAMD, "amd-opteron-bd", "amd-server", ClassServerOld, ""},
	{"naples", "Naples (Zen)", VendorAMD, "amd-naples", "amd-server", ClassServer, "EPYC 1st Gen"},
	{"rome", "Rome (Zen 2)", VendorAMD, "amd-rome", "amd-server", ClassServer, "EPYC 2nd Gen"},
	{"milan", "Milan (Zen 3)", VendorAMD, "amd-milan", "amd-server", ClassServer, "EPYC 3rd Gen"},
	{"genoa", "Genoa (Zen 4)", VendorAMD, "amd-genoa", "amd-server", ClassServer, "EPYC 4th Gen"},
	{"bergamo", "Bergamo (Zen 4c)", VendorAMD, "amd-genoa", "amd-server", ClassServer, "EPYC 4th Gen"},
	{"siena", "Siena (Zen 4c)", VendorAMD, "amd-genoa", "amd-server", ClassServer, "EPYC 4th Gen"},
	{"turin", "Turin (Zen 5)", VendorAMD, "amd-turin", "amd-server", ClassServer, "EPYC 5th Gen"},
	{"zen-client", "Ryzen (Zen 2-4)", VendorAMD, "amd-client", "entry", ClassEntry, ""},
	{"neoverse-n1", "Neoverse N1 (Ampere Altra, Graviton2)", VendorARM, "arm", "default", ClassServer, "Graviton2"},
	{"neoverse-v1", "Neoverse V1 (Graviton3)", VendorARM, "arm", "default", ClassServer, "Graviton3"},
	{"neoverse-v2", "Neoverse V2 (Graviton4, Grace)", VendorARM, "arm", "default", ClassServer, "Graviton4"},
	{"arm-other", "Arm (core not in table)", VendorARM, "arm", "default", ClassServer, ""},
	{"intel-server", "Intel server (model not in table)", VendorIntel, "default", "intel-server", ClassServer, "Cascade Lake"},
	{"amd-server", "AMD server (model not in table)", VendorAMD, "default", "amd-server", ClassServer, "EPYC 3rd Gen"},
	{"unknown", "unknown CPU", "", "default", "default", ClassServer, ""},
}

// ArchByID returns the architecture with the given ID.
func ArchByID(id string) (Arch, bool) {
	for _, a := range archs {
		if a.ID == id {
			return a, true
		}
	}
	return Arch{}, false
}

// Archs returns a copy of the architecture table.
func Archs() []Arch { return append([]Arch(nil), archs...) }

// x86ID maps (vendor, family, model) from /proc/cpuinfo to an architecture,
// for cloud guests whose model name is generic ("AMD EPYC", "Intel Xeon
// Processor"). Intel model numbers are the INTEL_FAM6_* constants of Linux
// arch/x86/include/asm/intel-family.h; AMD ones are the family/model pairs
// of the AMD Processor Programming References (family 17h: Naples 01h,
// Rome 31h; family 19h: Milan 01h, Genoa 11h, Bergamo/Siena A0h; desktop
// and laptop parts as listed). Family 1Ah is taken as Zen 5 server (Turin)
// whatever its model.
var x86IDs = []struct {
	vendor        string
	family, model int // model -1: any
	arch          string
}{
	{VendorIntel, 6, 0x0F, "core2"},          // CORE2_MEROM (Woodcrest, Clovertown)
	{VendorIntel, 6, 0x17, "core2"},          // CORE2_PENRYN (Harpertown, Wolfdale)
	{VendorIntel, 6, 0x1D, "core2"},          // CORE2_DUNNINGTON
	{VendorIntel, 6, 0x1A, "nehalem"},        // NEHALEM_EP
	{VendorIntel, 6, 0x1E, "nehalem-up"},     // NEHALEM (Lynnfield)
	{VendorIntel, 6, 0x2E, "nehalem-ex"},     // NEHALEM_EX
	{VendorIntel, 6, 0x25, "nehalem-up"},     // WESTMERE (Clarkdale)
	{VendorIntel, 6, 0x2C, "nehalem"},        // WESTMERE_EP
	{VendorIntel, 6, 0x2F, "nehalem-ex"},     // WESTMERE_EX
	{VendorIntel, 6, 0x2A, "sandybridge"},    // SANDYBRIDGE
	{VendorIntel, 6, 0x2D, "sandybridge-ep"}, // SANDYBRIDGE_X
	{VendorIntel, 6, 0x3A, "sandybridge"},    // IVYBRIDGE
	{VendorIntel, 6, 0x3E, "sandybridge-ep"}, // IVYBRIDGE_X
	{VendorIntel, 6, 0x3C, "haswell-client"}, // HASWELL
	{VendorIntel, 6, 0x45, "haswell-client"}, // HASWELL_L
	{VendorIntel, 6, 0x3D, "haswell-client"}, // BROADWELL
	{VendorIntel, 6, 0x56, "broadwell-ep"},   // BROADWELL_D
	{VendorIntel, 6, 0x4E, "haswell-client"}, // SKYLAKE_L
	{VendorIntel, 6, 0x5E, "haswell-client"}, // SKYLAKE
	{VendorIntel, 6, 0x3F, "haswell-ep"},
	{VendorIntel, 6, 0x4F, "broadwell-ep"},
	{VendorIntel, 6, 0x55, "cascadelake-sp"}, // Skylake-SP shares 0x55; stepping tells, see archFromX86
	{VendorIntel, 6, 0x6A, "icelake-sp"},
	{VendorIntel, 6, 0x6C, "icelake-d"},
	{VendorIntel, 6, 0x8F, "sapphirerapids"},
	{VendorIntel, 6, 0xCF, "emeraldrapids"},
	{VendorIntel, 6, 0xAD, "graniterapids"},
	{VendorIntel, 6, 0xAF, "sierraforest"},
	{VendorIntel, 6, 0x8E, "kabylake"},   // KABYLAKE_L (also Coffee/Whiskey Lake mobile)
	{VendorIntel, 6, 0x9E, "coffeelake"}, // KABYLAKE (Kaby/Coffee Lake desktop, Xeon E)
	{VendorIntel, 6, 0xA5, "cometlake"},
	{VendorIntel, 6, 0xA6, "cometlake"},
	{VendorIntel, 6, 0xA7, "rocketlake"},
	{VendorIntel, 6, 0x97, "raptorlake"},   // ALDERLAKE
	{VendorIntel, 6, 0x9A, "raptorlake"},   // ALDERLAKE_L
	{VendorIntel, 6, 0xB7, "raptorlake"},   // RAPTORLAKE
	{VendorIntel, 6, 0xBA, "raptorlake"},   // RAPTORLAKE_P
	{VendorIntel, 6, 0xBF, "raptorlake"},   // RAPTORLAKE_S
	{VendorIntel, 6, 0x7E, "intel-client"}, // ICELAKE_L
	{VendorIntel, 6, 0x8C, "intel-client"}, // TIGERLAKE_L
	{VendorIntel, 6, 0x8D, "intel-client"}, // TIGERLAKE
	{VendorIntel, 6, 0xAA, "intel-client"}, // METEORLAKE_L
	{VendorAMD, 0x0F, -1, "opteron-k10"},   // K8
	{VendorAMD, 0x10, -1, "opteron-k10"},
	{VendorAMD, 0x15, -1, "opteron-bd"},
	{VendorAMD, 0x17, 0x01, "naples"},
	{VendorAMD, 0x17, 0x31, "rome"},
	{VendorAMD, 0x19, 0x01, "milan"},
	{VendorAMD, 0x19, 0x11, "genoa"},
	{VendorAMD, 0x19, 0xA0, "bergamo"},
	{VendorAMD, 0x17, 0x60, "zen-client"}, // Renoir
	{VendorAMD, 0x17, 0x71, "zen-client"}, // Matisse
	{VendorAMD, 0x19, 0x21, "zen-client"}, // Vermeer
	{VendorAMD, 0x19, 0x44, "zen-client"}, // Rembrandt
	{VendorAMD, 0x19, 0x50, "zen-client"}, // Cezanne
	{VendorAMD, 0x19, 0x61, "zen-client"}, // Raphael
	{VendorAMD, 0x19, 0x74, "zen-client"}, // Phoenix
	{VendorAMD, 0x1A, -1, "turin"},
}

// archFromX86 returns the architecture of an x86 family/model/stepping.
func archFromX86(vendor string, family, model, stepping int) (string, bool) {
	for _, id := range x86IDs {
		if id.vendor == vendor && id.family == family && (id.model == -1 || id.model == model) {
			if id.arch == "cascadelake-sp" && stepping < 5 {
				return "skylake-sp", true // Skylake-SP is 0x55 steppings 0-4
			}
			return id.arch, true
		}
	}
	return "", false
}

// armParts maps the "CPU part" of /proc/cpuinfo (Arm implementer 0x41) to an
// architecture (Arm Ltd. CPU part numbers: Neoverse N1 0xd0c, V1 0xd40,
// V2 0xd4f).
var armParts = map[string]string{
	"0xd0c": "neoverse-n1",
	"0xd40": "neoverse-v1",
	"0xd4f": "neoverse-v2",
}

// nameHints recognise architectures from generic model names, chiefly the
// CPU models QEMU/KVM expose to guests ("Intel Xeon Processor
// (Cascadelake)", "AMD EPYC-Milan Processor").
var nameHints = []struct{ substr, arch string }{
	{"sapphirerapids", "sapphirerapids"},
	{"sapphire rapids", "sapphirerapids"},
	{"emeraldrapids", "emeraldrapids"},
	{"graniterapids", "graniterapids"},
	{"sierraforest", "sierraforest"},
	{"icelake", "icelake-sp"},
	{"ice lake", "icelake-sp"},
	{"cooperlake", "cooperlake-sp"},
	{"cascadelake", "cascadelake-sp"},
	{"cascade lake", "cascadelake-sp"},
	{"skylake-server", "skylake-sp"},
	{"skylake", "skylake-sp"},
	{"broadwell", "broadwell-ep"},
	{"haswell", "haswell-ep"},
	{"epyc-turin", "turin"},
	{"epyc-genoa", "genoa"},
	{"epyc-milan", "milan"},
	{"epyc-rome", "rome"},
	{"epyc-naples", "naples"},
	{"neoverse-n1", "neoverse-n1"},
	{"neoverse-v1", "neoverse-v1"},
	{"neoverse-v2", "neoverse-v2"},
	{"graviton4", "neoverse-v2"},
	{"graviton3", "neoverse-v1"},
}
