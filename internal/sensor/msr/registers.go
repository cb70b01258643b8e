package msr

import (
	"fmt"
	"math/bits"

	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/units"
)

// RAPL model-specific registers. Addresses and layouts from the Intel SDM
// vol. 3B, "Platform Specific Power Management Support" (RAPL interfaces),
// and Linux arch/x86/include/asm/msr-index.h; the AMD set from the AMD
// Family 17h+ PPRs (the same addresses Linux uses in intel_rapl_msr.c).
const (
	regIntelPowerUnit  uint32 = 0x606 // MSR_RAPL_POWER_UNIT
	regIntelPkgEnergy  uint32 = 0x611 // MSR_PKG_ENERGY_STATUS
	regIntelDRAMEnergy uint32 = 0x619 // MSR_DRAM_ENERGY_STATUS
	regIntelPP0Energy  uint32 = 0x639 // MSR_PP0_ENERGY_STATUS (cores)
	regIntelPP1Energy  uint32 = 0x641 // MSR_PP1_ENERGY_STATUS (uncore / client iGPU)
	regIntelPsysEnergy uint32 = 0x64D // MSR_PLATFORM_ENERGY_STATUS (psys)

	regAMDPowerUnit uint32 = 0xC0010299 // MSR_AMD_RAPL_POWER_UNIT
	// MSR_AMD_CORE_ENERGY_STATUS (0xC001029A) is per core, not per socket;
	// this sensor does not read it (see the package documentation).
	regAMDPkgEnergy uint32 = 0xC001029B // MSR_AMD_PKG_ENERGY_STATUS
)

// Every RAPL energy status register counts in its low 32 bits; the upper
// 32 are reserved.
const (
	counterMask  = 1<<32 - 1
	counterRange = 1 << 32
)

// domainSpec is one energy status register and what it measures.
type domainSpec struct {
	reg  uint32
	kind string // power.Kind*
	name string // zone name, as the powercap tree names it
	// platform: read once, on the first package's CPU (psys covers the
	// whole platform, not one socket).
	platform bool
}

// vendorSpec is the register set of one CPU vendor.
type vendorSpec struct {
	name     string
	unitReg  uint32
	domains  []domainSpec
	quirkFor func(family, model int) quirks
}

var (
	intelSpec = vendorSpec{
		name:    "Intel",
		unitReg: regIntelPowerUnit,
		domains: []domainSpec{
			{reg: regIntelPkgEnergy, kind: power.KindPackage, name: "package"},
			{reg: regIntelDRAMEnergy, kind: power.KindDRAM, name: "dram"},
			{reg: regIntelPP0Energy, kind: power.KindCore, name: "core"},
			{reg: regIntelPP1Energy, kind: power.KindUncore, name: "uncore"},
			{reg: regIntelPsysEnergy, kind: power.KindPsys, name: "psys", platform: true},
		},
		quirkFor: intelQuirks,
	}
	amdSpec = vendorSpec{
		name:    "AMD",
		unitReg: regAMDPowerUnit,
		domains: []domainSpec{
			{reg: regAMDPkgEnergy, kind: power.KindPackage, name: "package"},
		},
		quirkFor: func(int, int) quirks { return quirks{} },
	}
)

// vendorByID maps /proc/cpuinfo's vendor_id to a register set.
func vendorByID(id string) (vendorSpec, bool) {
	switch id {
	case "GenuineIntel":
		return intelSpec, true
	case "AuthenticAMD", "HygonGenuine":
		return amdSpec, true
	}
	return vendorSpec{}, false
}

// quirks are per-model exceptions to "every domain counts in the unit of
// the power unit register".
type quirks struct {
	// dramUnit replaces the unit of the DRAM domain when set.
	dramUnit *energyUnit
	// psysUnit replaces the unit of the psys domain when set.
	psysUnit *energyUnit
}

var (
	// 15.3 µJ, exactly as Linux uses it (dram_domain_energy_unit = 15300 nJ
	// in rapl_defaults_hsw_server), so msr_rapl and powercap_rapl agree on
	// the same machine. Intel documents the unit as "15.3 µJ"; 2^-16 J
	// (15.2588 µJ) would differ by 0.27%.
	dramServerUnit = energyUnit{num: 153, den: 10}
	// 1 J (psys_domain_energy_unit = NANOJOULE_PER_JOULE in
	// rapl_defaults_spr_server).
	psysJouleUnit = energyUnit{num: 1_000_000, den: 1}
)

// intelQuirks follows the model table rapl_ids in Linux
// drivers/powercap/intel_rapl_common.c (intel_rapl_msr.c in newer
// kernels). All of them are family 6.
//
//   - rapl_defaults_hsw_server (fixed 15.3 µJ DRAM unit): Haswell-X 0x3F,
//     Broadwell-X 0x4F, Skylake-X 0x55 (also Cascade/Cooper Lake),
//     Ice Lake-X 0x6A, Ice Lake-D 0x6C, Xeon Phi KNL 0x57 and KNM 0x85.
//     Broadwell-D 0x56 is rapl_defaults_core there: its DRAM uses the ESU.
//   - rapl_defaults_spr_server (psys counts in joules; DRAM uses the ESU
//     since the 15.3 µJ entry was removed in Linux 6.1): Sapphire Rapids-X
//     0x8F, Emerald Rapids-X 0xCF.
//
// Granite Rapids and Sierra Forest (0xAD, 0xAE, 0xAF) are absent from that
// table (Linux drives their RAPL through TPMI); they get the defaults.
func intelQuirks(family, model int) quirks {
	if family != 6 {
		return quirks{}
	}
	switch model {
	case 0x3F, 0x4F, 0x55, 0x6A, 0x6C, 0x57, 0x85:
		return quirks{dramUnit: &dramServerUnit}
	case 0x8F, 0xCF:
		return quirks{psysUnit: &psysJouleUnit}
	}
	return quirks{}
}

// unitFor returns the energy unit of one domain.
func (q quirks) unitFor(kind string, esu energyUnit) energyUnit {
	switch {
	case kind == power.KindDRAM && q.dramUnit != nil:
		return *q.dramUnit
	case kind == power.KindPsys && q.psysUnit != nil:
		return *q.psysUnit
	}
	return esu
}

// energyUnit is the energy one count of a register stands for, as the
// exact fraction num/den microjoules (1/2^ESU J is 10^6/2^ESU µJ, which no
// float or integer number of nanojoules holds exactly).
type energyUnit struct{ num, den uint64 }

// unitFromPowerUnitReg decodes the energy status unit (ESU, bits 12:8) of
// MSR_RAPL_POWER_UNIT or MSR_AMD_RAPL_POWER_UNIT: one count is 1/2^ESU J.
func unitFromPowerUnitReg(v uint64) energyUnit {
	esu := (v >> 8) & 0x1F
	return energyUnit{num: 1_000_000, den: 1 << esu}
}

// microjoules converts a count of units to microjoules, rounding down. The
// count is kept in raw units by the caller, so the fraction lost here is
// never lost from the running total.
func (u energyUnit) microjoules(count uint64) units.Energy {
	hi, lo := bits.Mul64(count, u.num)
	if hi >= u.den { // beyond 2^64 µJ: unreachable, but never panic
		return units.Energy(^uint64(0))
	}
	q, _ := bits.Div64(hi, lo, u.den)
	return units.Energy(q)
}

// String gives the unit in microjoules, for logs and Method.
func (u energyUnit) String() string {
	return fmt.Sprintf("%.4g µJ", float64(u.num)/float64(u.den))
}
