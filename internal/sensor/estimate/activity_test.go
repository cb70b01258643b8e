package estimate

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/sensor"
)

// TestActivity: on a measured host the devices' counters are read by ID,
// with the class figures as the prior, and the model's platform figures.
func TestActivity(t *testing.T) {
	m := newMachine(t, "xeon-e5-2687wv4-block0.txt")
	m.addDevices(1234, 5000)
	a := NewActivity(sensor.Options{ProcFS: m.procfs, SysFS: m.sysfs})
	devs := a.Devices()
	if len(devs) != 2 {
		t.Fatalf("devices %+v, want sda and eth0", devs)
	}
	sda, eth := devs[0], devs[1]
	if sda.ID != "storage:sda" || sda.Resource != power.ResourceStorage || sda.FullScale != 1000 || sda.Idle != 1.1 || sda.Active != 5.6 {
		t.Errorf("sda %+v", sda)
	}
	if eth.ID != "network:eth0" || eth.Resource != power.ResourceNetwork || eth.FullScale != 1.25e9 || eth.Active != 5 {
		t.Errorf("eth0 %+v", eth)
	}
	got, err := a.Read()
	if err != nil || got["storage:sda"] != 1234 || got["network:eth0"] != 5000 || len(got) != 2 {
		t.Errorf("read %v, %v", got, err)
	}
	idle, cpu, wallIdle, wallCPU := a.PlatformPrior()
	md := a.model
	if idle != md.Idle().Platform || math.Abs(cpu-(md.Power(1).Platform-md.Idle().Platform)) > 1e-9 || wallIdle != md.Idle().Wall || !(wallCPU > cpu) {
		t.Errorf("prior %v %v %v %v", idle, cpu, wallIdle, wallCPU)
	}
	// The counters gone: an error, and no device in the reading.
	if err := os.Remove(filepath.Join(m.procfs, "diskstats")); err != nil {
		t.Fatal(err)
	}
	got, err = a.Read()
	if err == nil || len(got) != 1 {
		t.Errorf("without diskstats: %v, %v", got, err)
	}
}

// BenchmarkActivityRead reads this machine's own device counters, as the
// sampler does once per tick on a measured host.
func BenchmarkActivityRead(b *testing.B) {
	a := NewActivity(sensor.Options{})
	if len(a.Devices()) == 0 {
		b.Skip("no disk or NIC on this machine")
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Read(); err != nil {
			b.Fatal(err)
		}
	}
}
