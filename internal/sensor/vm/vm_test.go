package vm

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wattlens/wattlens/internal/counter"
	"github.com/wattlens/wattlens/internal/exporter/qemu"
	"github.com/wattlens/wattlens/internal/procstat"
	"github.com/wattlens/wattlens/internal/sensor"
	"github.com/wattlens/wattlens/internal/snapshot"
	"github.com/wattlens/wattlens/internal/units"
)

// host plays the host's qemu exporter writing the share of VM "vm".
type host struct {
	t    *testing.T
	x    *qemu.Exporter
	dir  string
	seq  uint64
	when time.Time
	src  sensor.Source
}

func newHost(t *testing.T, opts qemu.Options) *host {
	t.Helper()
	dir := t.TempDir()
	x, err := qemu.New(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	return &host{t: t, x: x, dir: dir, when: time.Now(), src: sensor.Measured}
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
			Key:    procstat.Key{PID: 42, StartTime: 1},
			Meta:   &procstat.Meta{VM: "vm"},
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

func TestMissingShare(t *testing.T) {
	for name, path := range map[string]string{
		"no directory":    filepath.Join(t.TempDir(), "nope"),
		"empty directory": t.TempDir(),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := New(sensor.Options{VMPath: path})
			if !errors.Is(err, sensor.ErrUnavailable) {
				t.Fatalf("New() error = %v, want one wrapping sensor.ErrUnavailable", err)
			}
			for _, want := range []string{path, "virtiofs", "9p", "docs/vm.md", "--vm.path"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
		})
	}
}

// TestReadsWhatTheHostWrote: the guest sees exactly the VM's energy,
// across wraps of the written counter, as one package zone on socket 0.
func TestReadsWhatTheHostWrote(t *testing.T) {
	h := newHost(t, qemu.Options{MaxRange: 30 * units.Joule, Step: time.Second})
	h.tick(0)
	s, err := NewAt(h.share(), nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Read()
	if err != nil {
		t.Fatal(err)
	}
	want := []sensor.Zone{{
		ID: "intel-rapl:0", Kind: sensor.KindPackage, Socket: 0, Name: "package-0",
		Energy: 0, MaxRange: 30 * units.Joule, Source: sensor.Measured,
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
	h.src = sensor.Estimated
	h.tick(units.Joule)
	s, err := NewAt(h.share(), nil)
	if err != nil {
		t.Fatal(err)
	}
	h.tick(units.Joule)
	r, err := s.Read()
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Zones[0].Source; got != sensor.Estimated {
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
	s, err := NewAt(h.share(), nil, WithClock(c.now))
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

func TestStaleLimit(t *testing.T) {
	s := &Sensor{}
	for _, tt := range []struct {
		step float64
		want time.Duration
	}{
		{1, MinStale}, {2, 6 * time.Second}, {10, 30 * time.Second}, {0, DefaultStale}, {-1, DefaultStale}, {1e9, DefaultStale},
	} {
		if got := s.staleAfterFor(meta{StepSeconds: tt.step}); got != tt.want {
			t.Errorf("step %g s: stale after %s, want %s", tt.step, got, tt.want)
		}
	}
}

// TestStaleAtStart: a share last written long ago (by the host's clock,
// allowing a minute of skew) is stale from the first read.
func TestStaleAtStart(t *testing.T) {
	h := newHost(t, qemu.Options{Step: time.Second})
	h.when = time.Now().Add(-time.Hour)
	h.tick(units.Joule)
	s, err := NewAt(h.share(), nil)
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
	s, err := NewAt(h.share(), nil)
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
	meta := filepath.Join(h.share(), MetaFile)
	if err := os.Remove(meta); err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Now()}
	s, err := NewAt(h.share(), nil, WithClock(c.now))
	if err != nil {
		t.Fatal(err)
	}
	c.add(time.Hour)
	if _, err := s.Read(); err != nil {
		t.Fatalf("Read() without a heartbeat: %v", err)
	}

	h.tick(units.Joule) // writes the heartbeat again
	s, err = NewAt(h.share(), nil)
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
	s, err := NewAt(h.share(), nil)
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

func TestImplements(t *testing.T) {
	var s any = &Sensor{}
	if _, ok := s.(sensor.IdleModeller); !ok {
		t.Error("not a sensor.IdleModeller")
	}
	if _, ok := s.(sensor.Describer); !ok {
		t.Error("not a sensor.Describer")
	}
	if _, ok := s.(sensor.Sensor); !ok {
		t.Error("not a sensor.Sensor")
	}
}
