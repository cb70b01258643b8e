// The round trip of the share: the host's qemu exporter writes it, the
// guest's vm sensor reads it, and what the guest books is what the host
// meant. Both sides keep this package's contract; these tests show they
// keep it together (restarts, epochs, staleness, wraps).
package vmshare_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wattlens/wattlens/internal/attribution"
	"github.com/wattlens/wattlens/internal/counter"
	"github.com/wattlens/wattlens/internal/exporter/qemu"
	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/procinfo"
	"github.com/wattlens/wattlens/internal/sensor/vm"
	"github.com/wattlens/wattlens/internal/snapshot"
	"github.com/wattlens/wattlens/internal/units"
	"github.com/wattlens/wattlens/internal/vmshare"
)

// host plays the host's qemu exporter writing the share of VM "vm".
type host struct {
	t    *testing.T
	x    *qemu.Exporter
	dir  string
	seq  uint64
	when time.Time
	src  power.Source
}

func newHost(t *testing.T, opts qemu.Options) *host {
	t.Helper()
	dir := t.TempDir()
	x, err := qemu.New(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	return &host{t: t, x: x, dir: dir, when: time.Now(), src: power.Measured}
}

// restart replaces the host's exporter by a new one with opts, as a
// restart of the host agent does (after a clean stop when stop is set).
func (h *host) restart(opts qemu.Options, stop bool) {
	h.t.Helper()
	if stop {
		if err := h.x.Close(); err != nil {
			h.t.Fatal(err)
		}
	}
	x, err := qemu.New(h.dir, opts)
	if err != nil {
		h.t.Fatal(err)
	}
	h.x = x
}

// meta reads the share's wattlens.json.
func (h *host) meta() vmshare.Meta {
	h.t.Helper()
	b, err := os.ReadFile(filepath.Join(h.share(), vmshare.MetaFile))
	if err != nil {
		h.t.Fatal(err)
	}
	var m vmshare.Meta
	if err := json.Unmarshal(b, &m); err != nil {
		h.t.Fatal(err)
	}
	return m
}

// share is the VM's directory, what the guest mounts.
func (h *host) share() string { return filepath.Join(h.dir, "vm") }

// tick writes one interval in which the VM used e.
func (h *host) tick(e units.Energy) {
	h.t.Helper()
	h.seq++
	h.when = h.when.Add(time.Second)
	s := &snapshot.Snapshot{
		Seq: h.seq, Time: h.when, Interval: time.Second, Sensor: "estimate", SensorUp: true,
		Host: snapshot.Energy{Source: h.src},
		Processes: []snapshot.Process{{
			Key:    procinfo.Key{PID: 42, StartTime: 1},
			Meta:   &procinfo.Meta{VM: "vm"},
			Energy: snapshot.Energy{Delta: e},
		}},
	}
	if err := h.x.Export(context.Background(), s); err != nil {
		h.t.Fatal(err)
	}
}

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// TestReadsWhatTheHostWrote: the guest sees exactly the VM's energy,
// across wraps of the written counter, as one package zone on socket 0.
func TestReadsWhatTheHostWrote(t *testing.T) {
	h := newHost(t, qemu.Options{MaxRange: 30 * units.Joule, Step: time.Second})
	h.tick(0)
	s, err := vm.NewAt(h.share(), nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Read()
	if err != nil {
		t.Fatal(err)
	}
	want := []power.Zone{{
		ID: vmshare.EpochZoneID("intel-rapl:0", h.meta().CounterEpoch), Kind: power.KindPackage, Socket: 0, Name: "package-0",
		Energy: 0, MaxRange: 30 * units.Joule, MaxPower: power.DefaultCeiling, Source: power.Measured,
	}}
	if diff := cmp.Diff(want, r.Zones); diff != "" {
		t.Fatalf("first reading (-want +got):\n%s", diff)
	}
	prev := r.Zones[0]
	var seen units.Energy
	for i := 0; i < 20; i++ {
		h.tick(7 * units.Joule) // 7 W
		r, err := s.Read()
		if err != nil {
			t.Fatalf("read %d: %v", i, err)
		}
		z := r.Zones[0]
		d, _ := counter.Delta(uint64(prev.Energy), uint64(z.Energy), uint64(z.MaxRange))
		seen += units.Energy(d)
		prev = z
	}
	if seen != 140*units.Joule {
		t.Errorf("guest saw %d µJ, want 140 J", seen)
	}
	if got := s.IdlePower(); got != 0 {
		t.Errorf("IdlePower() = %d, want 0", got)
	}
	if !strings.Contains(s.Method(), h.share()) || !strings.Contains(s.Method(), "qemu exporter") {
		t.Errorf("Method() = %q, want the share's path and where it comes from", s.Method())
	}
}

// TestSourceFollowsHost: an estimating host marks its guests' figures
// estimated.
func TestSourceFollowsHost(t *testing.T) {
	h := newHost(t, qemu.Options{})
	h.src = power.Estimated
	h.tick(units.Joule)
	s, err := vm.NewAt(h.share(), nil)
	if err != nil {
		t.Fatal(err)
	}
	h.tick(units.Joule)
	r, err := s.Read()
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Zones[0].Source; got != power.Estimated {
		t.Errorf("zone source = %q, want estimated", got)
	}
	if !strings.Contains(s.Method(), "estimated") {
		t.Errorf("Method() = %q, want it to say the host estimates", s.Method())
	}
}

// TestStale: a share whose heartbeat stops for more than 3 host steps (at
// least 5 s) makes Read fail, so the guest reports the sensor down rather
// than 0 W; it recovers when the host writes again.
func TestStale(t *testing.T) {
	h := newHost(t, qemu.Options{Step: time.Second})
	h.tick(units.Joule)
	c := &clock{t: time.Now()}
	s, err := vm.NewAt(h.share(), nil, vm.WithClock(c.now))
	if err != nil {
		t.Fatal(err)
	}
	// The host writes every second: fresh.
	for i := 0; i < 10; i++ {
		c.add(time.Second)
		h.tick(units.Joule)
		if _, err := s.Read(); err != nil {
			t.Fatalf("read %d while the host writes: %v", i, err)
		}
	}
	// The host stops. Within the limit (max(3 × 1 s, 5 s)) still up: an
	// idle VM's counter does not move, and that is not staleness.
	c.add(4 * time.Second)
	if _, err := s.Read(); err != nil {
		t.Fatalf("4 s after the last write: %v", err)
	}
	c.add(2 * time.Second)
	_, err = s.Read()
	if err == nil || !strings.Contains(err.Error(), "stale") {
		t.Fatalf("6 s after the last write: error = %v, want stale", err)
	}
	// The host writes again.
	h.tick(units.Joule)
	c.add(time.Second)
	if _, err := s.Read(); err != nil {
		t.Fatalf("after the host wrote again: %v", err)
	}
}

// TestStaleAtStart: a share last written long ago (by the host's clock,
// allowing a minute of skew) is stale from the first read.
func TestStaleAtStart(t *testing.T) {
	h := newHost(t, qemu.Options{Step: time.Second})
	h.when = time.Now().Add(-time.Hour)
	h.tick(units.Joule)
	s, err := vm.NewAt(h.share(), nil)
	if err != nil {
		t.Fatalf("New: %v (a stale share is down, not unavailable)", err)
	}
	if _, err := s.Read(); err == nil || !strings.Contains(err.Error(), "stale") {
		t.Fatalf("Read() error = %v, want stale", err)
	}
	h.tick(units.Joule) // the host is back
	if _, err := s.Read(); err != nil {
		t.Fatalf("after a new write: %v", err)
	}
}

func TestHostStopped(t *testing.T) {
	h := newHost(t, qemu.Options{})
	h.tick(units.Joule)
	s, err := vm.NewAt(h.share(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.x.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Read(); err == nil || !strings.Contains(err.Error(), "stopped") {
		t.Fatalf("Read() error = %v, want the host stopped", err)
	}
}

// TestNoHeartbeat: a share without wattlens.json (written by another tool)
// is read, without a staleness check; one whose heartbeat vanishes is down.
func TestNoHeartbeat(t *testing.T) {
	h := newHost(t, qemu.Options{})
	h.tick(units.Joule)
	meta := filepath.Join(h.share(), vmshare.MetaFile)
	if err := os.Remove(meta); err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Now()}
	s, err := vm.NewAt(h.share(), nil, vm.WithClock(c.now))
	if err != nil {
		t.Fatal(err)
	}
	c.add(time.Hour)
	if _, err := s.Read(); err != nil {
		t.Fatalf("Read() without a heartbeat: %v", err)
	}

	h.tick(units.Joule) // writes the heartbeat again
	s, err = vm.NewAt(h.share(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(meta); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Read(); err == nil {
		t.Fatal("Read() with a vanished heartbeat: no error")
	}
}

// TestShareGoesAway: the share unmounted under a running guest makes Read
// fail; it recovers when it is back.
func TestShareGoesAway(t *testing.T) {
	h := newHost(t, qemu.Options{})
	h.tick(units.Joule)
	s, err := vm.NewAt(h.share(), nil)
	if err != nil {
		t.Fatal(err)
	}
	moved := h.share() + ".away"
	if err := os.Rename(h.share(), moved); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Read(); err == nil {
		t.Fatal("Read() with the share gone: no error")
	}
	if err := os.Rename(moved, h.share()); err != nil {
		t.Fatal(err)
	}
	h.tick(units.Joule)
	if _, err := s.Read(); err != nil {
		t.Fatalf("Read() with the share back: %v", err)
	}
}

// guest plays the guest agent: the vm sensor's readings go through
// attribution as the sampler passes them (a failed read is skipped, the
// books held), and what it books is kept.
type guest struct {
	t     *testing.T
	s     *vm.Sensor
	a     *attribution.Attributor
	when  time.Time
	ids   []string       // zone ID of each good read
	delta []units.Energy // host energy booked by each snapshot
	wraps int
}

func newGuest(t *testing.T, path string) *guest {
	t.Helper()
	s, err := vm.NewAt(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	g := &guest{t: t, s: s, when: time.Now(),
		a: attribution.New(attribution.Options{Sensor: vm.Name, IdleOrigin: attribution.IdleFromModel})}
	return g
}

// tick reads once; it reports whether the read worked.
func (g *guest) tick() bool {
	g.t.Helper()
	g.when = g.when.Add(time.Second)
	r, err := g.s.Read()
	if err != nil {
		return false
	}
	if len(r.Zones) != 1 {
		g.t.Fatalf("%d zones, want 1", len(r.Zones))
	}
	g.ids = append(g.ids, r.Zones[0].ID)
	if snap := g.a.Observe(attribution.Sample{Time: g.when, Zones: r.Zones}); snap != nil {
		g.delta = append(g.delta, snap.Host.Delta)
		g.wraps = snap.Stats.Wraps
	}
	return true
}

// mustTick reads once and fails the test when the read fails.
func (g *guest) mustTick() {
	g.t.Helper()
	if !g.tick() {
		_, err := g.s.Read()
		g.t.Fatalf("guest read: %v", err)
	}
}

func (g *guest) lastID() string { return g.ids[len(g.ids)-1] }

func (g *guest) lastDelta() units.Energy { return g.delta[len(g.delta)-1] }

func (g *guest) total() units.Energy {
	var sum units.Energy
	for _, d := range g.delta {
		sum += d
	}
	return sum
}

// TestHostRestartsLower: when the host's counter restarts lower (its
// range changed, or its share was lost), the guest sees a new counter
// epoch in its zone ID, so attribution takes a new baseline and books
// nothing for that tick, instead of reading the drop as a wrap and
// booking the guest up to a whole range (112 163 308 850 µJ, ~28 kW over
// 4 s, in the case below, once).
func TestHostRestartsLower(t *testing.T) {
	for _, tt := range []struct {
		name  string
		stop  bool // the host agent stops cleanly (stopped: true)
		lose  bool // the share is lost (a fresh tmpfs, the directory removed)
		opts  qemu.Options
		want  units.Energy // the range after the restart
		reads int          // guest reads between the restart and the first write
	}{
		{name: "range lowered after a clean stop", stop: true, opts: qemu.Options{MaxRange: 100_000_000_000}, want: 100_000_000_000, reads: 1},
		{name: "range lowered after a kill", opts: qemu.Options{MaxRange: 100_000_000_000}, want: 100_000_000_000},
		{name: "share lost after a clean stop", stop: true, lose: true, want: qemu.DefaultMaxRange, reads: 1},
		{name: "share lost after a kill", lose: true, want: qemu.DefaultMaxRange},
		{name: "range raised", stop: true, opts: qemu.Options{MaxRange: 300_000_000_000}, want: 300_000_000_000},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHost(t, qemu.Options{Step: time.Second})
			h.tick(150_000_000_000)
			g := newGuest(t, h.share())
			g.mustTick() // the baseline
			h.tick(20 * units.Joule)
			g.mustTick()
			if got := g.lastDelta(); got != 20*units.Joule {
				t.Fatalf("before the restart: booked %d µJ, want 20 J", got)
			}
			before := g.lastID()

			if tt.stop {
				if err := h.x.Close(); err != nil {
					t.Fatal(err)
				}
			}
			if tt.lose {
				if err := os.RemoveAll(h.share()); err != nil {
					t.Fatal(err)
				}
			}
			opts := tt.opts
			opts.Step = time.Second
			h.restart(opts, false)
			for range tt.reads {
				if g.tick() {
					t.Fatal("guest read a stopped or missing share")
				}
			}
			h.tick(units.Joule)
			g.mustTick()
			if got := g.lastDelta(); got != 0 {
				t.Errorf("the tick of the restart booked %d µJ, want 0 (a new baseline)", got)
			}
			if g.lastID() == before {
				t.Fatalf("zone ID %q did not change when the host's counter restarted", before)
			}
			h.tick(2 * units.Joule)
			g.mustTick()
			if got := g.lastDelta(); got != 2*units.Joule {
				t.Errorf("after the restart: booked %d µJ, want 2 J", got)
			}
			r, err := g.s.Read()
			if err != nil {
				t.Fatal(err)
			}
			if got := r.Zones[0].MaxRange; got != tt.want {
				t.Errorf("range after the restart = %d, want %d", got, tt.want)
			}
			if g.total() != 22*units.Joule || g.wraps != 0 {
				t.Errorf("booked %d µJ in all with %d wraps, want 22 J and no wrap", g.total(), g.wraps)
			}
		})
	}
}

// TestHostRestartCarriesOn: a host agent that restarts and carries its
// counter on keeps the epoch, so the guest's zone ID stays and no energy
// is lost across the restart, the tick the host was away included.
func TestHostRestartCarriesOn(t *testing.T) {
	for _, stop := range []bool{true, false} {
		h := newHost(t, qemu.Options{Step: time.Second})
		h.tick(units.Joule)
		g := newGuest(t, h.share())
		g.mustTick()
		h.tick(2 * units.Joule)
		g.mustTick()
		id := g.lastID()
		h.restart(qemu.Options{Step: time.Second}, stop)
		if g.tick() == stop {
			t.Errorf("stop %v: the read while the host was away worked: %v", stop, !stop)
		}
		h.tick(3 * units.Joule)
		g.mustTick()
		h.tick(4 * units.Joule)
		g.mustTick()
		if g.lastID() != id {
			t.Errorf("stop %v: zone ID %q became %q across a restart that carried the counter on", stop, id, g.lastID())
		}
		if g.total() != 9*units.Joule {
			t.Errorf("stop %v: booked %d µJ, want 9 J", stop, g.total())
		}
	}
}

// TestWrapInOneEpoch: within one epoch, a counter that wraps is a wrap,
// booked exactly, under one zone ID.
func TestWrapInOneEpoch(t *testing.T) {
	h := newHost(t, qemu.Options{MaxRange: 30 * units.Joule, Step: time.Second})
	h.tick(0)
	g := newGuest(t, h.share())
	g.mustTick()
	for range 20 {
		h.tick(7 * units.Joule)
		g.mustTick()
	}
	if g.total() != 140*units.Joule || g.wraps < 4 {
		t.Errorf("booked %d µJ with %d wraps, want 140 J and at least 4 wraps", g.total(), g.wraps)
	}
	for _, id := range g.ids {
		if id != g.ids[0] {
			t.Fatalf("zone IDs changed within one epoch: %v", g.ids)
		}
	}
	if want := vmshare.EpochZoneID("intel-rapl:0", h.meta().CounterEpoch); g.ids[0] != want || h.meta().CounterEpoch == 0 {
		t.Errorf("zone ID %q, want %q with a non-zero epoch", g.ids[0], want)
	}
}

// TestShareWithoutEpoch: the share of a host that records no epoch is
// epoch 0, zone intel-rapl:0, as before epochs were recorded.
func TestShareWithoutEpoch(t *testing.T) {
	h := newHost(t, qemu.Options{Step: time.Second})
	h.tick(units.Joule)
	write := func(seq, energy uint64) {
		t.Helper()
		b := fmt.Sprintf(`{"version":1,"vm":"vm","seq":%d,"unix_nano":%d,"step_seconds":1,"energy_uj":%d,`+
			`"max_energy_range_uj":%d,"source":"measured","sensor":"powercap_rapl"}`,
			seq, time.Now().UnixNano(), energy, uint64(qemu.DefaultMaxRange))
		if err := os.WriteFile(filepath.Join(h.share(), vmshare.MetaFile), []byte(b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(1, 1e6)
	g := newGuest(t, h.share())
	g.mustTick()
	write(2, 3e6)
	g.mustTick()
	if g.lastID() != "intel-rapl:0" || g.lastDelta() != 2*units.Joule {
		t.Errorf("zone %q booked %d µJ, want intel-rapl:0 and 2 J", g.lastID(), g.lastDelta())
	}
}

// TestCounterFromHeartbeat: the counter, its range and its epoch are
// taken together from wattlens.json, so a guest that sees a new series'
// energy_uj before its wattlens.json (the host writes them one after the
// other, and a virtiofs cache may keep either for a while) never pairs
// the new counter with the old epoch.
func TestCounterFromHeartbeat(t *testing.T) {
	h := newHost(t, qemu.Options{Step: time.Second})
	h.tick(150_000_000_000)
	g := newGuest(t, h.share())
	g.mustTick()
	// A new series' energy_uj, with the old wattlens.json still there.
	if err := os.WriteFile(filepath.Join(h.share(), "intel-rapl:0", "energy_uj"), []byte("1000000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	g.mustTick()
	if g.lastDelta() != 0 {
		t.Errorf("booked %d µJ from an energy_uj of another series", g.lastDelta())
	}
	r, err := g.s.Read()
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Zones[0].Energy; got != 150_000_000_000 {
		t.Errorf("energy = %d, want wattlens.json's 150000000000", got)
	}
}
