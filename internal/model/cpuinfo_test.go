package model

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wattlens/wattlens/internal/machine"
)

func TestParseCPUInfo(t *testing.T) {
	tests := []struct {
		name string
		text string
		want CPUInfo
	}{
		{
			name: "kvm guest on EPYC Genoa",
			text: readFixture(t, "cpuinfo/kvm-amd-epyc-genoa.txt"),
			want: CPUInfo{ModelName: "AMD EPYC", VendorID: "AuthenticAMD", Family: 25, Model: 17, Stepping: 1,
				Sockets: 1, Cores: 2, Threads: 2, Hypervisor: true},
		},
		{
			name: "laptop",
			text: readFixture(t, "cpuinfo/laptop-intel-i7-8650u.txt"),
			want: CPUInfo{ModelName: "Intel(R) Core(TM) i7-8650U CPU @ 1.90GHz", VendorID: "GenuineIntel", Family: 6, Model: 142, Stepping: 10,
				Sockets: 1, Cores: 4, Threads: 8},
		},
		{
			name: "arm64 neoverse v2",
			text: readFixture(t, "cpuinfo/arm64-neoverse-v2.txt"),
			want: CPUInfo{ModelName: "ARM neoverse-v2", ARMPart: "0xd4f", Sockets: 1, Cores: 2, Threads: 2},
		},
		{
			name: "two-socket xeon",
			text: xeonTwoSocket(t),
			want: CPUInfo{ModelName: "Intel(R) Xeon(R) CPU E5-2687W v4 @ 3.00GHz", VendorID: "GenuineIntel", Family: 6, Model: 79, Stepping: 1,
				Sockets: 2, Cores: 24, Threads: 24},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseCPUInfo(tc.text)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("CPUInfoOf (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseCPUInfoErrors(t *testing.T) {
	if _, err := parseCPUInfo("garbage\n\n"); err == nil {
		t.Error("no processor entries: want an error")
	}
}

// parseCPUInfo reads text with the machine reader's parser and summarises
// it for the model.
func parseCPUInfo(text string) (CPUInfo, error) {
	m, err := machine.ParseCPUInfo(strings.NewReader(text))
	if err != nil {
		return CPUInfo{}, err
	}
	return CPUInfoOf(m)
}

func readFixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("../machine/testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// xeonTwoSocket repeats the real first block of a two-socket E5-2687W v4
// for its 24 logical CPUs (2 sockets × 12 cores, no SMT).
func xeonTwoSocket(t *testing.T) string {
	block := readFixture(t, "cpuinfo/xeon-e5-2687wv4-block0.txt")
	var b strings.Builder
	for cpu := 0; cpu < 24; cpu++ {
		s := strings.Replace(block, "processor\t: 0", fmt.Sprintf("processor\t: %d", cpu), 1)
		s = strings.Replace(s, "physical id\t: 0", fmt.Sprintf("physical id\t: %d", cpu/12), 1)
		s = strings.Replace(s, "core id\t\t: 0", fmt.Sprintf("core id\t\t: %d", cpu%12), 1)
		b.WriteString(s)
	}
	return b.String()
}
