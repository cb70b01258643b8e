package estimate

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wattlens/wattlens/internal/power"
)

// addDevices gives the fixture machine a SATA SSD and a 10 GbE NIC, and
// writes their counters.
func (m *machine) addDevices(ioTicksMs, netBytes uint64) {
	m.t.Helper()
	files := map[string]string{
		filepath.Join(m.sysfs, "block/sda/device/model"):       "SSD\n",
		filepath.Join(m.sysfs, "block/sda/queue/rotational"):   "0\n",
		filepath.Join(m.sysfs, "class/net/eth0/device/vendor"): "0x8086\n",
		filepath.Join(m.sysfs, "class/net/eth0/speed"):         "10000\n",
	}
	for p, c := range files {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			m.t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			m.t.Fatal(err)
		}
	}
	m.counters(ioTicksMs, netBytes)
}

func (m *machine) counters(ioTicksMs, netBytes uint64) {
	m.t.Helper()
	disk := fmt.Sprintf("   8       0 sda 1 0 8 0 1 0 8 0 0 %d 0 0 0 0 0 0 0\n   8       1 sda1 1 0 8 0 1 0 8 0 0 %d 0\n", ioTicksMs, ioTicksMs)
	net := "Inter-| Receive | Transmit\n face |bytes packets errs drop fifo frame compressed multicast|bytes packets errs drop fifo colls carrier compressed\n" +
		fmt.Sprintf("    lo: 999999 1 0 0 0 0 0 0 999999 1 0 0 0 0 0 0\n  eth0: %d 1 0 0 0 0 0 0 %d 1 0 0 0 0 0 0\n", netBytes/2, netBytes-netBytes/2)
	for p, c := range map[string]string{filepath.Join(m.procfs, "diskstats"): disk, filepath.Join(m.procfs, "net/dev"): net} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			m.t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			m.t.Fatal(err)
		}
	}
}

// TestDevicePower: a disk busy half the time and a NIC carrying half its
// line rate draw their idle power plus half their active increment; their
// idle is taken out of the platform zone, and the sum at idle is the
// model's wall idle.
func TestDevicePower(t *testing.T) {
	m := newMachine(t, "xeon-e5-2687wv4-block0.txt")
	m.addDevices(0, 0)
	s := m.sensor()
	if _, err := s.Read(); err != nil {
		t.Fatal(err)
	}
	// 10 s: 5 000 ms of io_ticks; 6.25 GB = 50 Gbit over 10 s on 10 Gb/s.
	m.counters(5000, 6_250_000_000)
	m.step(10, 0.5)
	r, err := s.Read()
	if err != nil {
		t.Fatal(err)
	}
	got := joules(r)
	disk := (1.1 + (5.6-1.1)*0.5) * 10
	nic := (2.5 + (5-2.5)*0.5) * 10
	if math.Abs(got["estimate:storage:sda"]-disk) > 1e-4 {
		t.Errorf("disk %.4f J, want %.4f J", got["estimate:storage:sda"], disk)
	}
	if math.Abs(got["estimate:network:eth0"]-nic) > 1e-4 {
		t.Errorf("nic %.4f J, want %.4f J", got["estimate:network:eth0"], nic)
	}
	b := s.Model().Power(0.5)
	idle := 1.1 + 2.5
	if want := (b.Platform - min(idle, s.Model().Idle().Platform)) * 10; math.Abs(got[ZonePlatform]-want) > 1e-4 {
		t.Errorf("platform %.4f J, want %.4f J (the devices' idle taken out)", got[ZonePlatform], want)
	}
	if wall := s.Model().Idle().Wall; math.Abs(s.IdlePower().Watts()-wall) > 1e-5 {
		t.Errorf("idle power %.4f W, want the model's wall idle %.4f W: the devices' idle is inside it", s.IdlePower().Watts(), wall)
	}
	kinds := map[string]string{}
	for _, z := range r.Zones {
		kinds[z.ID] = z.Kind
		if z.Source != power.Estimated {
			t.Errorf("zone %s source %s", z.ID, z.Source)
		}
	}
	if kinds["estimate:storage:sda"] != power.KindStorage || kinds["estimate:network:eth0"] != power.KindNetwork {
		t.Errorf("zone kinds %v", kinds)
	}
	for _, want := range []string{"storage sda (ssd): 1.10 W idle, 5.60 W busy", "Intel SSD DC S4500", "network eth0 (physical)", "memory's active part is driven by CPU utilisation"} {
		if !strings.Contains(s.Method(), want) {
			t.Errorf("Method() lacks %q:\n%s", want, s.Method())
		}
	}

	// A counter that goes back (a device re-plugged) counts as idle, and
	// unreadable counters too.
	m.counters(0, 0)
	m.step(1, 0)
	r, _ = s.Read()
	if g := joules(r)["estimate:storage:sda"] - got["estimate:storage:sda"]; math.Abs(g-1.1) > 1e-4 {
		t.Errorf("after the counter went back: %.4f J in 1 s, want the idle 1.1 J", g)
	}
	if err := os.Remove(filepath.Join(m.procfs, "diskstats")); err != nil {
		t.Fatal(err)
	}
	m.step(1, 0)
	if _, err := s.Read(); err != nil {
		t.Errorf("a missing diskstats failed the read: %v", err)
	}
}
