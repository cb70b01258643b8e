package estimate

import (
	"errors"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wattlens/wattlens/internal/sensor"
	"github.com/wattlens/wattlens/internal/sensor/perfrapl"
)

// TestKernelHardwareEventsFailWithoutPMU: on a machine with no CPU PMU
// (a VM without a virtual PMU, as the development VM), the running
// kernel refuses the LLC-miss events, the error says there is no PMU, and
// the sensor falls back to CPU utilisation without failing.
func TestKernelHardwareEventsFailWithoutPMU(t *testing.T) {
	if hasCorePMU("/sys") {
		t.Skip("this machine has a CPU PMU: the hardware events may open here")
	}
	_, err := openTraffic(perfrapl.Kernel{}, "/sys", 1e9)
	if err == nil {
		t.Fatal("the LLC-miss events opened on a machine without a CPU PMU")
	}
	for _, want := range []string{"no CPU PMU under /sys/bus/event_source/devices", "LLC-load-misses", "cache-misses", "perf_event_open"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want it to name %q", err, want)
		}
	}
	m := newMachine(t, "kvm-amd-epyc-genoa.txt")
	writeOnline(t, m.sysfs, "0")
	s := m.sensor() // the kernel's opener
	if !strings.Contains(s.Method(), "driven by CPU utilisation (memory-traffic counters do not open: no CPU PMU") {
		t.Errorf("Method = %q, want the fallback and its reason", s.Method())
	}
	if got := ProbeMemoryDriver(sensor.Options{SysFS: "/sys"}); !strings.HasPrefix(got, "CPU utilisation (memory-traffic counters do not open: no CPU PMU") {
		t.Errorf("ProbeMemoryDriver = %q", got)
	}
}

// TestKernelPerCPUSoftwareEvent checks the per-CPU group open, read and
// sum on the running kernel with the software cpu-clock event
// (nanoseconds each CPU's clock ran), which needs no PMU: one group of
// two cpu-clock events per online CPU, one read each, the sum of both
// events on all CPUs over an interval near 2 × CPUs × the interval.
// CPU-wide events need root or CAP_PERFMON (or perf_event_paranoid ≤ 0).
func TestKernelPerCPUSoftwareEvent(t *testing.T) {
	cpus, err := onlineCPUs("/sys")
	if err != nil {
		t.Skip(err)
	}
	tr := &traffic{cpus: len(cpus)}
	clock := perfEvent{"cpu-clock", unix.PERF_TYPE_SOFTWARE, unix.PERF_COUNT_SW_CPU_CLOCK}
	n, err := tr.openOn(perfrapl.Kernel{}, []perfEvent{clock, clock}, cpus)
	t.Cleanup(func() { _ = tr.close() })
	if errors.Is(err, sensor.ErrPermission) && n == 0 {
		t.Skipf("CPU-wide perf events refused to this user: %v", err)
	}
	if n != len(cpus) {
		t.Fatalf("opened on %d of %d CPUs: %v", n, len(cpus), err)
	}
	if _, ok := tr.read(); ok {
		t.Error("first read gave a figure; want none")
	}
	start := time.Now()
	time.Sleep(200 * time.Millisecond)
	sum, ok := tr.read()
	elapsed := time.Since(start)
	if !ok {
		t.Fatal("second read gave no figure")
	}
	ns := sum / cacheLine // read() multiplies the summed counts by the line size
	want := 2 * float64(len(cpus)) * float64(elapsed.Nanoseconds())
	t.Logf("2 cpu-clock events over %v on %d CPUs: %.0f ns (2 × CPUs × interval = %.0f ns)", elapsed, len(cpus), ns, want)
	if ns < 0.5*want || ns > 1.1*want {
		t.Errorf("summed cpu-clock %.0f ns, want between 0.5 and 1.1 × %.0f ns", ns, want)
	}
	if len(tr.counters) != len(cpus) || len(tr.events) != 2 {
		t.Errorf("%d groups with events %v, want %d with both", len(tr.counters), tr.events, len(cpus))
	}
	for _, k := range tr.counters {
		if k.dead || !k.seen {
			t.Errorf("CPU %d: counter dead %v, seen %v", k.cpu, k.dead, k.seen)
		}
	}
}

// BenchmarkKernelTrafficRead is one tick's read of a group of three
// events per online CPU, on the running kernel, with the software
// cpu-clock event standing in for the three LLC-miss events (the same
// read(2) of a CPU-wide group).
func BenchmarkKernelTrafficRead(b *testing.B) {
	cpus, err := onlineCPUs("/sys")
	if err != nil {
		b.Skip(err)
	}
	tr := &traffic{cpus: len(cpus)}
	clock := perfEvent{"cpu-clock", unix.PERF_TYPE_SOFTWARE, unix.PERF_COUNT_SW_CPU_CLOCK}
	n, err := tr.openOn(perfrapl.Kernel{}, []perfEvent{clock, clock, clock}, cpus)
	b.Cleanup(func() { _ = tr.close() })
	if n != len(cpus) {
		b.Skipf("opened on %d of %d CPUs: %v", n, len(cpus), err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := tr.read(); !ok && b.N > 1 {
			b.Fatal("no figure")
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(cpus)), "ns/cpu")
}
