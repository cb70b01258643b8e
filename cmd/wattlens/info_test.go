package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wattlens/wattlens/internal/sensor/powercap/powercaptest"
)

// cpuinfo returns a /proc/cpuinfo of sockets × cores × threads x86 CPUs.
func cpuinfo(sockets, cores, threads int, flags string) string {
	var b strings.Builder
	n := 0
	for s := range sockets {
		for c := range cores {
			for range threads {
				b.WriteString("processor\t: " + strconv.Itoa(n) + "\n" +
					"vendor_id\t: GenuineIntel\n" +
					"model name\t: Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz\n" +
					"physical id\t: " + strconv.Itoa(s) + "\n" +
					"siblings\t: " + strconv.Itoa(cores*threads) + "\n" +
					"core id\t\t: " + strconv.Itoa(c) + "\n" +
					"cpu cores\t: " + strconv.Itoa(cores) + "\n" +
					"flags\t\t: fpu vme de pse tsc msr " + flags + "\n\n")
				n++
			}
		}
	}
	return b.String()
}

// machineRoots writes a procfs with cpuinfo and a sysfs with DMI ids.
func machineRoots(t *testing.T, cpu, vendor, product string) (procRoot, sysRoot string) {
	t.Helper()
	procRoot, sysRoot = t.TempDir(), t.TempDir()
	write := func(path, content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if cpu != "" {
		write(filepath.Join(procRoot, "cpuinfo"), cpu)
	}
	if vendor != "" {
		write(filepath.Join(sysRoot, "class", "dmi", "id", "sys_vendor"), vendor+"\n")
		write(filepath.Join(sysRoot, "class", "dmi", "id", "product_name"), product+"\n")
	}
	return procRoot, sysRoot
}

func TestMachine(t *testing.T) {
	tests := []struct {
		name                 string
		cpu, vendor, product string
		want                 machineInfo
	}{
		{
			name: "bare metal two sockets",
			cpu:  cpuinfo(2, 4, 2, "ht"), vendor: "Dell Inc.", product: "PowerEdge R750",
			want: machineInfo{CPUModel: "Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz", Sockets: 2, Cores: 8, Threads: 16,
				SysVendor: "Dell Inc.", ProductName: "PowerEdge R750"},
		},
		{
			name: "kvm guest",
			cpu:  cpuinfo(1, 4, 1, "hypervisor"), vendor: "QEMU", product: "Standard PC (Q35 + ICH9, 2009)",
			want: machineInfo{CPUModel: "Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz", Sockets: 1, Cores: 4, Threads: 4,
				SysVendor: "QEMU", ProductName: "Standard PC (Q35 + ICH9, 2009)", VirtualMachine: true,
				VMEvidence: []string{"virtual machine: hypervisor flag in /proc/cpuinfo"}},
		},
		{
			name: "hyper-v guest without the flag",
			cpu:  cpuinfo(1, 2, 1, ""), vendor: "Microsoft Corporation", product: "Virtual Machine",
			want: machineInfo{CPUModel: "Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz", Sockets: 1, Cores: 2, Threads: 2,
				SysVendor: "Microsoft Corporation", ProductName: "Virtual Machine", VirtualMachine: true,
				VMEvidence: []string{"virtual machine: Microsoft Hyper-V (DMI Microsoft Corporation / Virtual Machine)"}},
		},
	}
	tests = append(tests, struct {
		name                 string
		cpu, vendor, product string
		want                 machineInfo
	}{
		name: "cloud bare-metal instance is not a vm",
		cpu:  cpuinfo(2, 4, 2, "ht"), vendor: "Amazon EC2", product: "m5.metal",
		want: machineInfo{CPUModel: "Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz", Sockets: 2, Cores: 8, Threads: 16,
			SysVendor: "Amazon EC2", ProductName: "m5.metal"},
	})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			procRoot, sysRoot := machineRoots(t, tt.cpu, tt.vendor, tt.product)
			if diff := cmp.Diff(tt.want, machine(procRoot, sysRoot)); diff != "" {
				t.Errorf("machine (-want +got):\n%s", diff)
			}
		})
	}

	m := machine(t.TempDir(), t.TempDir())
	if m.CPUInfoError == "" || m.VirtualMachine {
		t.Errorf("no cpuinfo, no DMI: %+v", m)
	}
}

func TestInfoCommand(t *testing.T) {
	sys := t.TempDir()
	if err := powercaptest.Build(sys, powercaptest.IntelServer2S()); err != nil {
		t.Fatal(err)
	}
	procRoot, _ := machineRoots(t, cpuinfo(2, 2, 1, ""), "", "")
	args := []string{"--path.sysfs", sys, "--path.procfs", procRoot, "--path.devfs", t.TempDir(), "info"}

	code, out, stderr := runWattlens(t, append(args, "--json")...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rep infoReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	// powercap_rapl, plus gpu on a machine with an NVIDIA driver.
	if len(rep.Use) == 0 || rep.Use[0] != "powercap_rapl" || len(rep.Use) > 1 && rep.Use[1] != "gpu" {
		t.Errorf("use %v, want powercap_rapl first", rep.Use)
	}
	if rep.Machine.Sockets != 2 || rep.Machine.Threads != 4 {
		t.Errorf("machine %+v", rep.Machine)
	}
	var pc *sensorInfo
	for i, s := range rep.Sensors {
		if s.Name == "powercap_rapl" {
			pc = &rep.Sensors[i]
		}
		if s.Name == "msr_rapl" && (s.Works || s.Reason == "") {
			t.Errorf("msr_rapl with an empty devfs: %+v", s)
		}
	}
	if pc == nil || !pc.Works || pc.Auto != "cpu" || len(pc.Zones) != 4 {
		t.Fatalf("powercap_rapl: %+v", pc)
	}
	// On a measured host, the platform fit's terms at their priors.
	if p := rep.Platform; p == nil || len(p.Terms) != 2 || p.Terms[0].Term != "idle" || p.Terms[1].Term != "cpu" ||
		p.Terms[0].Status != "prior: too few samples" || !(p.Terms[1].StdErr > 0) {
		t.Errorf("platform fit %+v, want idle and cpu at their priors", p)
	}
	ranges := map[string]uint64{}
	for _, z := range pc.Zones {
		ranges[z.ID] = z.MaxEnergyRangeUJ
	}
	if ranges["intel-rapl:0"] != 262_143_328_850 || ranges["intel-rapl:0:0"] != 65_712_999_613 {
		t.Errorf("ranges %v", ranges)
	}

	code, out, stderr = runWattlens(t, args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"powercap_rapl  works", "2 sockets, 4 cores, 4 threads", "In use\n  powercap_rapl (auto: the first that works of powercap_rapl",
		"intel-rapl:1:0", "262143328850 µJ (262143 J, 44 min at 100 W)", "why: ",
		"Platform split (a meter's remainder)\n", "prior: too few samples",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
	if strings.Contains(out, "memory power:") {
		t.Errorf("a memory power line without the estimate sensor in use:\n%s", out)
	}

	// With the sensor named, info says so; with --vm, the vm sensor.
	code, out, _ = runWattlens(t, append([]string{"-s", "msr_rapl"}, append(args, "--json")...)...)
	if !strings.Contains(out, `"use_why": "--sensor; msr_rapl cannot be set up here, so the exporters will not start"`) {
		t.Errorf("-s msr_rapl: %s", out)
	}
	if code != 1 {
		t.Errorf("-s msr_rapl that does not work: exit %d, want 1 (info is a health check)", code)
	}
	// The Zones table lists the zones of the sensors in use only.
	_, out, _ = runWattlens(t, append([]string{"-s", "estimate"}, args...)...)
	if strings.Contains(out, "intel-rapl:0") {
		t.Errorf("-s estimate: powercap zones in the Zones table:\n%s", out)
	}
	if strings.Contains(out, "Platform split") {
		t.Errorf("-s estimate: a platform fit:\n%s", out)
	}
	// The estimate's memory term says what drives it: here no CPU list in
	// the fixture, so no traffic counter, so CPU utilisation.
	if !strings.Contains(out, "\n  memory power: CPU utilisation (memory-traffic counters do not open: online CPUs unknown") {
		t.Errorf("-s estimate: no memory power line:\n%s", out)
	}
	_, out, _ = runWattlens(t, append([]string{"--vm"}, append(args, "--json")...)...)
	if !strings.Contains(out, `"use": [
    "vm"
  ]`) {
		t.Errorf("--vm: %s", out)
	}
}

func TestWrapRange(t *testing.T) {
	tests := map[uint64]string{
		0:               "unknown (a decrease is taken as a reset)",
		262_143_328_850: "262143328850 µJ (262143 J, 44 min at 100 W)",
		4_294_967_295:   "4294967295 µJ (4295 J, 43 s at 100 W)",
		1 << 50:         "1125899906842624 µJ (1125899907 J, 130 days at 100 W)",
	}
	for uj, want := range tests {
		if got := wrapRange(uj); got != want {
			t.Errorf("wrapRange(%d) = %q, want %q", uj, got, want)
		}
	}
}
