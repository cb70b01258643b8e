package model

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var testMachines = []Machine{
	{CPU: "Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz", Sockets: 2, Threads: 80, MemoryGB: 384},
	{CPU: "AMD EPYC 7763 64-Core Processor", Sockets: 1, Threads: 128, MemoryGB: 256},
	{CPU: "Intel(R) Xeon(R) E-2388G CPU @ 3.20GHz", Sockets: 1, Threads: 16, MemoryGB: 32},
	{CPU: "AMD EPYC", Query: Query{VendorID: "AuthenticAMD", Family: 25, Model: 17}, Threads: 2, MemoryGB: 23.5, VM: true},
	{CPU: "Intel(R) Xeon(R) Platinum 8259CL CPU @ 2.50GHz", Threads: 4, MemoryGB: 16, VM: true},
	{CPU: "something unknown", Sockets: 1, Threads: 8, MemoryGB: 16},
	{CPU: "", Threads: 0, MemoryGB: 0},
}

func TestPowerIsMonotonicInLoad(t *testing.T) {
	for _, m := range testMachines {
		md := For(m)
		prev := md.Power(0)
		for u := 0.01; u <= 1.0001; u += 0.01 {
			b := md.Power(u)
			if b.Wall < prev.Wall-1e-9 || b.CPU < prev.CPU-1e-9 || b.Memory < prev.Memory-1e-9 {
				t.Fatalf("%q: power fell from %+v to %+v at u=%.2f", m.CPU, prev, b, u)
			}
			prev = b
		}
	}
}

func TestIdleBelowFull(t *testing.T) {
	for _, m := range testMachines {
		md := For(m)
		idle, full := md.Idle(), md.Power(1)
		if m.Threads == 0 {
			continue // nothing to run: the CPU term may be zero at both ends
		}
		if !(idle.Wall > 0 && idle.Wall < full.Wall && idle.CPU < full.CPU) {
			t.Errorf("%q: idle %+v, full %+v; want 0 < idle < full", m.CPU, idle, full)
		}
	}
}

func TestBreakdownSums(t *testing.T) {
	for _, m := range testMachines {
		for _, u := range []float64{0, 0.3, 1} {
			b := For(m).Power(u)
			if math.Abs(b.CPU+b.Memory+b.Platform-b.Wall) > 1e-9 {
				t.Errorf("%q at %g: %+v does not sum", m.CPU, u, b)
			}
			if b.CPU < 0 || b.Memory < 0 || b.Platform < 0 {
				t.Errorf("%q at %g: negative part in %+v", m.CPU, u, b)
			}
		}
	}
}

func TestPowerClampsUtilisation(t *testing.T) {
	md := For(testMachines[0])
	if diff := cmp.Diff(md.Power(0), md.Power(-1)); diff != "" {
		t.Errorf("u<0 not clamped:\n%s", diff)
	}
	if diff := cmp.Diff(md.Power(1), md.Power(7)); diff != "" {
		t.Errorf("u>1 not clamped:\n%s", diff)
	}
	if diff := cmp.Diff(md.Power(0), md.Power(math.NaN())); diff != "" {
		t.Errorf("NaN not treated as 0:\n%s", diff)
	}
}

// A VM's estimate without memory is proportional to its vCPUs, and a VM
// with all of a two-socket host's threads and memory is the host itself.
func TestVMShare(t *testing.T) {
	name := "Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz"
	one := For(Machine{CPU: name, Threads: 1, VM: true}).Power(0.5).Wall
	four := For(Machine{CPU: name, Threads: 4, VM: true}).Power(0.5).Wall
	if math.Abs(four-4*one) > 1e-9 {
		t.Errorf("4 vCPUs = %g W, want 4 × %g W", four, one)
	}
	whole := For(Machine{CPU: name, Threads: 80, MemoryGB: 384, VM: true})
	host := For(Machine{CPU: name, Sockets: 2, Threads: 80, MemoryGB: 384})
	for _, u := range []float64{0, 0.5, 1} {
		if diff := cmp.Diff(host.Power(u), whole.Power(u), cmp.Comparer(approx)); diff != "" {
			t.Errorf("whole-host VM differs from host at %g (-host +vm):\n%s", u, diff)
		}
	}
}

func approx(a, b float64) bool { return math.Abs(a-b) < 1e-9*math.Max(1, math.Abs(a)) }

func TestMethodNamesRowAndFormula(t *testing.T) {
	m := For(testMachines[0]).Method()
	for _, want := range []string{"estimated", "Xeon Gold 6248", "TDP 150 W", "quattor", "W/GB", "PSU"} {
		if !strings.Contains(m, want) {
			t.Errorf("Method() = %q, want it to contain %q", m, want)
		}
	}
	vm := For(testMachines[3]).Method()
	for _, want := range []string{"VM share: 2 vCPUs", "median of", "family 0x19 model 0x11"} {
		if !strings.Contains(vm, want) {
			t.Errorf("VM Method() = %q, want it to contain %q", vm, want)
		}
	}
}

func TestCurveJSON(t *testing.T) {
	c := For(testMachines[0]).Curve(StandardLoads())
	var buf bytes.Buffer
	if err := WriteJSON(&buf, c); err != nil {
		t.Fatal(err)
	}
	var got map[string][]float64
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("%v in %s", err, buf.String())
	}
	keys := []string{}
	for k, v := range got {
		keys = append(keys, k)
		if len(v) != 11 {
			t.Errorf("%s has %d values, want 11", k, len(v))
		}
	}
	if diff := cmp.Diff([]string{"cpu_watts", "loads", "memory_watts", "wall_watts"}, sortedStrings(keys)); diff != "" {
		t.Errorf("JSON keys (-want +got):\n%s", diff)
	}
	if got["loads"][10] != 100 || got["wall_watts"][0] >= got["wall_watts"][10] {
		t.Errorf("unexpected curve %v", got)
	}
}

func TestPrintTable(t *testing.T) {
	var buf bytes.Buffer
	if err := PrintTable(&buf, For(testMachines[0]).Curve([]float64{0, 50, 100})); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"load %", "wall W", "100", "estimated"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "\n"); n != 6 {
		t.Errorf("table has %d lines, want header + 3 rows + 2 notes:\n%s", n, out)
	}
}

func sortedStrings(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}
