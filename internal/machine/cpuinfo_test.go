package machine

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func readFixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// counts is what CPUInfo's methods say of a file.
type counts struct {
	Processors, Threads, Sockets, Cores int
	Hypervisor                          bool
	Vendor, ModelName                   string
}

func countsOf(ci CPUInfo) counts {
	c := counts{Processors: len(ci.Processors), Threads: ci.Threads(), Sockets: ci.Sockets(), Cores: ci.Cores(), Hypervisor: ci.Hypervisor()}
	if len(ci.Processors) > 0 {
		c.Vendor, _ = ci.Processors[0].Get("vendor_id")
		c.ModelName, _ = ci.Processors[0].Get("model name")
	}
	return c
}

func TestParseCPUInfo(t *testing.T) {
	for _, tt := range []struct {
		name, text string
		want       counts
	}{
		{"kvm guest on EPYC Genoa", readFixture(t, "cpuinfo/kvm-amd-epyc-genoa.txt"),
			counts{Processors: 2, Threads: 2, Sockets: 1, Cores: 2, Hypervisor: true, Vendor: "AuthenticAMD", ModelName: "AMD EPYC"}},
		{"laptop", readFixture(t, "cpuinfo/laptop-intel-i7-8650u.txt"),
			counts{Processors: 8, Threads: 8, Sockets: 1, Cores: 4, Vendor: "GenuineIntel", ModelName: "Intel(R) Core(TM) i7-8650U CPU @ 1.90GHz"}},
		{"arm64 neoverse v2: no physical or core id", readFixture(t, "cpuinfo/arm64-neoverse-v2.txt"),
			counts{Processors: 2, Threads: 2}},
		{"one xeon block", readFixture(t, "cpuinfo/xeon-e5-2687wv4-block0.txt"),
			counts{Processors: 1, Threads: 1, Sockets: 1, Cores: 1, Vendor: "GenuineIntel", ModelName: "Intel(R) Xeon(R) CPU E5-2687W v4 @ 3.00GHz"}},
		{"blank lines and lines without a colon are no blocks", "\n\ngarbage\n\nprocessor : 0\nflags : fpu hypervisorx\n\n\n",
			counts{Processors: 1, Threads: 1}},
		{"empty", "", counts{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ci, err := ParseCPUInfo(strings.NewReader(tt.text))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, countsOf(ci)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestFieldsInOrder(t *testing.T) {
	ci, err := ParseCPUInfo(strings.NewReader("processor\t: 0\nmodel\t\t: 85\nmodel name\t: Xeon : Gold\nmodel\t\t: 99\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := CPUInfo{Processors: []Processor{{Fields: []Field{
		{"processor", "0"}, {"model", "85"}, {"model name", "Xeon : Gold"}, {"model", "99"},
	}}}}
	if diff := cmp.Diff(want, ci); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if v, ok := ci.Processors[0].Get("model"); !ok || v != "85" {
		t.Errorf(`Get("model") = %q, %v; want the first, "85"`, v, ok)
	}
	if _, ok := ci.Processors[0].Get("stepping"); ok {
		t.Error(`Get("stepping") found a field that is not there`)
	}
}

func TestReader(t *testing.T) {
	proc, sys := t.TempDir(), t.TempDir()
	write := func(path, content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := New(proc, sys)
	if _, err := r.CPUInfo(); err == nil || isParse(err) {
		t.Errorf("CPUInfo() without the file: error %v, want a read error", err)
	}
	if _, err := r.MemTotal(); err == nil || isParse(err) {
		t.Errorf("MemTotal() without the file: error %v, want a read error", err)
	}
	if got := r.DMI(); got != (DMI{}) {
		t.Errorf("DMI() without the files = %+v, want empty", got)
	}

	write(filepath.Join(proc, "cpuinfo"), readFixture(t, "cpuinfo/kvm-amd-epyc-genoa.txt"))
	write(filepath.Join(proc, "meminfo"), "MemTotal: 12 MB\n")
	write(filepath.Join(sys, "class", "dmi", "id", "sys_vendor"), "QEMU\n")
	write(filepath.Join(sys, "class", "dmi", "id", "product_name"), "  Standard PC (Q35 + ICH9, 2009)\n")
	ci, err := r.CPUInfo()
	if err != nil || ci.Threads() != 2 || !ci.Hypervisor() {
		t.Errorf("CPUInfo() = %d threads, hypervisor %v, %v; want 2, true, nil", ci.Threads(), ci.Hypervisor(), err)
	}
	if _, err := r.MemTotal(); !isParse(err) {
		t.Errorf("MemTotal() of a bad unit: error %v, want a *ParseError", err)
	}
	write(filepath.Join(proc, "meminfo"), "MemTotal:       24684084 kB\n")
	if got, err := r.MemTotal(); err != nil || got != 24684084*1024 {
		t.Errorf("MemTotal() = %d, %v", got, err)
	}
	if got, want := r.DMI(), (DMI{"QEMU", "Standard PC (Q35 + ICH9, 2009)"}); got != want {
		t.Errorf("DMI() = %+v, want %+v", got, want)
	}
}

func isParse(err error) bool {
	_, ok := err.(*ParseError)
	return ok
}
