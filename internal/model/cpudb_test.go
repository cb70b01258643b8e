package model

import (
	"strings"
	"testing"
)

func TestLookup(t *testing.T) {
	tests := []struct {
		name      string
		q         Query
		wantName  string // row name (exact) or arch name (fallback)
		wantArch  string
		wantExact bool
	}{
		{"gold 6248", Query{Name: "Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz"}, "Xeon Gold 6248", "cascadelake-sp", true},
		{"aws 8175M", Query{Name: "Intel(R) Xeon(R) Platinum 8175M CPU @ 2.50GHz"}, "Xeon Platinum 8175M (AWS)", "skylake-sp", true},
		{"aws 8259CL", Query{Name: "Intel(R) Xeon(R) Platinum 8259CL CPU @ 2.50GHz"}, "Xeon Platinum 8259CL (AWS)", "cascadelake-sp", true},
		{"aws 8375C", Query{Name: "Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz"}, "Xeon Platinum 8375C (AWS)", "icelake-sp", true},
		{"aws 8488C", Query{Name: "Intel(R) Xeon(R) Platinum 8488C"}, "Xeon Platinum 8488C (AWS)", "sapphirerapids", true},
		{"silver 4214", Query{Name: "Intel(R) Xeon(R) Silver 4214 CPU @ 2.20GHz"}, "Xeon Silver 4214", "cascadelake-sp", true},
		{"E5 v4 with space", Query{Name: "Intel(R) Xeon(R) CPU E5-2686 v4 @ 2.30GHz"}, "Xeon E5-2686 v4", "broadwell-ep", true},
		{"E5 v4 SPEC spelling", Query{Name: "Intel Xeon E5-2699 V4"}, "Xeon E5-2699 v4", "broadwell-ep", true},
		{"plus suffix", Query{Name: "Intel Xeon 8480+"}, "Xeon Platinum 8480+", "sapphirerapids", true},
		{"8592+ not 8592", Query{Name: "Intel(R) Xeon(R) Platinum 8592+"}, "Xeon Platinum 8592+", "emeraldrapids", true},
		{"xeon 6 e-core", Query{Name: "Intel(R) Xeon(R) 6780E"}, "Xeon 6780E", "sierraforest", true},
		{"epyc 7571", Query{Name: "AMD EPYC 7571"}, "EPYC 7571 (AWS)", "naples", true},
		{"epyc 7R13", Query{Name: "AMD EPYC 7R13 Processor"}, "EPYC 7R13 (AWS)", "milan", true},
		{"epyc 9R14", Query{Name: "AMD EPYC 9R14 96-Core Processor"}, "EPYC 9R14 (AWS)", "genoa", true},
		{"9654 is not 9654P", Query{Name: "AMD EPYC 9654 96-Core Processor"}, "EPYC 9654", "genoa", true},
		{"9654P", Query{Name: "AMD EPYC 9654P 96-Core Processor"}, "EPYC 9654P", "genoa", true},
		{"trailing comma", Query{Name: "AMD EPYC 9845,"}, "EPYC 9845", "turin", true},
		{"ryzen", Query{Name: "AMD Ryzen 7 7700X 8-Core Processor"}, "Ryzen 7 7700X", "zen-client", true},
		{"altra max", Query{Name: "Ampere Altra Max 64-Bit Multi-Core Processor M128-30"}, "Ampere Altra Max M128-30", "neoverse-n1", true},
		{"azure 8370C by family", Query{Name: "Intel(R) Xeon(R) Platinum 8370C CPU @ 2.80GHz", VendorID: "GenuineIntel", Family: 6, Model: 106}, "Ice Lake-SP", "icelake-sp", false},
		{"skylake stepping", Query{Name: "Intel(R) Xeon(R) CPU @ 2.00GHz", VendorID: "GenuineIntel", Family: 6, Model: 85, Stepping: 3}, "Skylake-SP", "skylake-sp", false},
		{"cascade stepping", Query{Name: "Intel(R) Xeon(R) CPU @ 2.20GHz", VendorID: "GenuineIntel", Family: 6, Model: 85, Stepping: 7}, "Cascade Lake-SP", "cascadelake-sp", false},
		{"generic epyc genoa", Query{Name: "AMD EPYC", VendorID: "AuthenticAMD", Family: 25, Model: 17}, "Genoa (Zen 4)", "genoa", false},
		{"qemu cascadelake", Query{Name: "Intel Xeon Processor (Cascadelake)", VendorID: "GenuineIntel"}, "Cascade Lake-SP", "cascadelake-sp", false},
		{"qemu milan", Query{Name: "AMD EPYC-Milan Processor", VendorID: "AuthenticAMD"}, "Milan (Zen 3)", "milan", false},
		{"qemu generic intel", Query{Name: "QEMU Virtual CPU version 2.5+", VendorID: "GenuineIntel"}, "Intel server (model not in table)", "intel-server", false},
		{"8480 without plus: no row, generation from the number", Query{Name: "Intel Xeon Platinum 8480"}, "Sapphire Rapids", "sapphirerapids", false},
		{"laptop by family", Query{Name: "Intel(R) Core(TM) i7-8650U CPU @ 1.90GHz", VendorID: "GenuineIntel", Family: 6, Model: 142}, "Kaby Lake", "kabylake", false},
		{"arm neoverse v2", Query{ARMPart: "0xd4f"}, "Neoverse V2 (Graviton4, Grace)", "neoverse-v2", false},
		{"nothing known", Query{}, "unknown CPU", "unknown", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := Lookup(tc.q)
			if m.Exact != tc.wantExact || m.Arch.ID != tc.wantArch || m.CPU.Name != tc.wantName {
				t.Errorf("Lookup(%+v) = %q arch %s exact %v (%s), want %q arch %s exact %v",
					tc.q, m.CPU.Name, m.Arch.ID, m.Exact, m.How, tc.wantName, tc.wantArch, tc.wantExact)
			}
			if m.CPU.TDP <= 0 || m.CPU.Threads <= 0 {
				t.Errorf("Lookup(%+v): TDP %g threads %d, want both > 0", tc.q, m.CPU.TDP, m.CPU.Threads)
			}
			if m.How == "" {
				t.Error("How is empty; the match must say which row it used")
			}
		})
	}
}

func TestFallbackIsMedianOfArch(t *testing.T) {
	m := Lookup(Query{Name: "AMD EPYC", VendorID: "AuthenticAMD", Family: 25, Model: 17})
	var pt []float64
	for _, r := range CPUs() {
		if r.Arch == "genoa" {
			pt = append(pt, r.TDP/float64(r.Threads))
		}
	}
	if got, want := m.CPU.TDP/float64(m.CPU.Threads), median(pt); abs(got-want) > 1e-9 {
		t.Errorf("fallback TDP per thread = %g, want the Genoa median %g", got, want)
	}
	if !strings.Contains(m.How, "median of") {
		t.Errorf("How = %q, want it to name the median", m.How)
	}
}

func TestTableRowsAreComplete(t *testing.T) {
	seen := map[string]string{}
	for _, r := range CPUs() {
		if _, ok := ArchByID(r.Arch); !ok {
			t.Errorf("%s: unknown arch %q", r.Name, r.Arch)
		}
		if r.TDP <= 0 || r.Cores <= 0 || r.Threads < r.Cores || r.Source == "" {
			t.Errorf("%s: incomplete row %+v", r.Name, r)
		}
		for _, k := range r.Keys {
			v := vendorOfArch(r.Arch)
			if prev, dup := seen[v+"/"+k]; dup {
				t.Errorf("key %q of %s already used by %s", k, r.Name, prev)
			}
			seen[v+"/"+k] = r.Name
		}
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
