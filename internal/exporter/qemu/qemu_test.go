package qemu

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wattlens/wattlens/internal/counter"
	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/procinfo"
	"github.com/wattlens/wattlens/internal/snapshot"
	"github.com/wattlens/wattlens/internal/units"
	"github.com/wattlens/wattlens/internal/vmshare"
)

var t0 = time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)

// tick builds the snapshot of tick seq, an interval of step, with procs.
func tick(seq uint64, step time.Duration, procs ...snapshot.Process) *snapshot.Snapshot {
	return &snapshot.Snapshot{
		Seq: seq, Time: t0.Add(time.Duration(seq) * step), Interval: step,
		Sensor: "powercap_rapl", SensorUp: true,
		Host:      snapshot.Energy{Source: power.Measured},
		Processes: procs,
	}
}

// proc is a process of VM vm (none when empty) that used delta in the
// interval.
func proc(pid int, vm string, delta units.Energy) snapshot.Process {
	return snapshot.Process{
		Key:    procinfo.Key{PID: pid, StartTime: 1},
		Meta:   &procinfo.Meta{Comm: "qemu-system-x86", VM: vm},
		Energy: snapshot.Energy{Delta: delta, Source: power.Measured},
	}
}

func newExporter(t *testing.T, dir string, opts Options) *Exporter {
	t.Helper()
	x, err := New(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func export(t *testing.T, x *Exporter, s *snapshot.Snapshot) {
	t.Helper()
	if err := x.Export(context.Background(), s); err != nil {
		t.Fatalf("Export: %v", err)
	}
}

func readUJ(t *testing.T, path string) uint64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return v
}

func energyPath(dir, vm string) string {
	return filepath.Join(dir, vm, vmshare.ZoneDir, vmshare.EnergyFile)
}

// TestUnits: a VM at a constant 10 W for 3 ticks of 2 s gets exactly
// 60 J = 60 000 000 µJ, whether its energy comes in one process or
// several, and nothing of the other processes.
func TestUnits(t *testing.T) {
	dir := t.TempDir()
	x := newExporter(t, dir, Options{Step: 2 * time.Second})
	x.now = func() time.Time { return t0 }
	step := 2 * time.Second
	p10W := (10 * units.Watt).EnergyOver(step) // 20 J
	for seq := uint64(1); seq <= 3; seq++ {
		export(t, x, tick(seq, step,
			proc(100, "vm1", p10W),
			proc(200, "vm2", p10W*3/4), proc(201, "vm2", p10W/4), // 10 W in two processes
			proc(300, "", 55*units.Joule), // not a VM
		))
	}
	for _, vm := range []string{"vm1", "vm2"} {
		if got, want := readUJ(t, energyPath(dir, vm)), uint64(60_000_000); got != want {
			t.Errorf("%s energy_uj = %d, want %d (60 J)", vm, got, want)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if diff := cmp.Diff([]string{"vm1", "vm2"}, names); diff != "" {
		t.Errorf("directories (-want +got):\n%s", diff)
	}

	var m vmshare.Meta
	b, err := os.ReadFile(filepath.Join(dir, "vm1", vmshare.MetaFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	want := vmshare.Meta{
		Version: vmshare.MetaVersion, VM: "vm1", Seq: 5, UnixNano: t0.Add(3 * step).UnixNano(),
		StepSeconds: 2, IntervalSeconds: 2, PowerWatts: 10, EnergyUJ: 60_000_000,
		MaxRangeUJ: uint64(DefaultMaxRange), CounterEpoch: uint64(t0.UnixNano()),
		Source: "measured", Sensor: "powercap_rapl",
	}
	if diff := cmp.Diff(want, m); diff != "" {
		t.Errorf("wattlens.json (-want +got):\n%s", diff)
	}
	if got := strings.TrimSpace(readFile(t, filepath.Join(dir, "vm1", vmshare.ZoneDir, vmshare.NameFile))); got != vmshare.ZoneName {
		t.Errorf("name = %q, want %q", got, vmshare.ZoneName)
	}
	if got := readUJ(t, filepath.Join(dir, "vm1", vmshare.ZoneDir, vmshare.MaxRangeFile)); got != uint64(DefaultMaxRange) {
		t.Errorf("max_energy_range_uj = %d, want %d", got, DefaultMaxRange)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestWrap: the written counter wraps at max_energy_range_uj the way the
// reader's counter.Delta unwraps it, so the guest loses nothing.
func TestWrap(t *testing.T) {
	dir := t.TempDir()
	const max = 100 * units.Joule
	x := newExporter(t, dir, Options{MaxRange: max})
	deltas := []units.Energy{40 * units.Joule, 40 * units.Joule, 40 * units.Joule, 20 * units.Joule, 99 * units.Joule, 0, 1}
	want := []uint64{40e6, 80e6, 20e6, 40e6, 39e6, 39e6, 39e6 + 1}
	prev := uint64(0)
	var total uint64
	for i, d := range deltas {
		export(t, x, tick(uint64(i+1), time.Second, proc(1, "w", d)))
		got := readUJ(t, energyPath(dir, "w"))
		if got != want[i] {
			t.Errorf("tick %d: energy_uj = %d, want %d", i+1, got, want[i])
		}
		if got > uint64(max) {
			t.Errorf("tick %d: energy_uj %d beyond the range %d", i+1, got, max)
		}
		step, _ := counter.Delta(prev, got, uint64(max))
		total += step
		prev = got
	}
	var sum uint64
	for _, d := range deltas {
		sum += uint64(d)
	}
	if total != sum {
		t.Errorf("unwrapped total = %d µJ, want %d", total, sum)
	}
}

func TestAdvanceMatchesCounterDelta(t *testing.T) {
	const max = units.Energy(1000)
	for old := units.Energy(0); old <= max; old += 7 {
		for delta := units.Energy(0); delta < max; delta += 13 {
			got := advance(old, delta, max)
			if got > max {
				t.Fatalf("advance(%d, %d) = %d, beyond %d", old, delta, got, max)
			}
			if d, _ := counter.Delta(uint64(old), uint64(got), uint64(max)); d != uint64(delta) {
				t.Fatalf("advance(%d, %d) = %d; counter.Delta gives back %d", old, delta, got, d)
			}
		}
	}
}

// TestSkippedSnapshots: a snapshot of a sensor that is down, or one seen
// already, adds nothing.
func TestSkippedSnapshots(t *testing.T) {
	dir := t.TempDir()
	x := newExporter(t, dir, Options{})
	s1 := tick(1, time.Second, proc(1, "vm", units.Joule))
	export(t, x, s1)
	export(t, x, s1) // the same tick again
	down := *tick(2, time.Second, proc(1, "vm", units.Joule))
	down.SensorUp = false
	export(t, x, &down)
	export(t, x, nil)
	if got := readUJ(t, energyPath(dir, "vm")); got != 1e6 {
		t.Errorf("energy_uj = %d, want 1000000", got)
	}
}

// TestVMStopsAndStarts: a stopped VM's share stays, unchanged; a VM that
// starts gets its share in the same tick, even with no energy yet; a VM
// that comes back, or an exporter that restarts, carries the counter on.
func TestVMStopsAndStarts(t *testing.T) {
	dir := t.TempDir()
	x := newExporter(t, dir, Options{})
	export(t, x, tick(1, time.Second, proc(1, "a", 5*units.Joule)))
	export(t, x, tick(2, time.Second, proc(2, "b", 0))) // a stops, b starts idle
	if got := readUJ(t, energyPath(dir, "a")); got != 5e6 {
		t.Errorf("stopped vm a: energy_uj = %d, want 5000000", got)
	}
	if got := readUJ(t, energyPath(dir, "b")); got != 0 {
		t.Errorf("new idle vm b: energy_uj = %d, want 0", got)
	}
	metaA := readFile(t, filepath.Join(dir, "a", vmshare.MetaFile))
	export(t, x, tick(3, time.Second, proc(2, "b", units.Joule)))
	if got := readFile(t, filepath.Join(dir, "a", vmshare.MetaFile)); got != metaA {
		t.Errorf("stopped vm a's heartbeat changed:\n%s\nthen\n%s", metaA, got)
	}
	export(t, x, tick(4, time.Second, proc(3, "a", 2*units.Joule), proc(2, "b", units.Joule)))
	if got := readUJ(t, energyPath(dir, "a")); got != 7e6 {
		t.Errorf("restarted vm a: energy_uj = %d, want 7000000", got)
	}

	// A new exporter (the host agent restarted) goes on from the files.
	y := newExporter(t, dir, Options{})
	export(t, y, tick(1, time.Second, proc(3, "a", units.Joule), proc(2, "b", units.Joule)))
	if got := readUJ(t, energyPath(dir, "a")); got != 8e6 {
		t.Errorf("after restart vm a: energy_uj = %d, want 8000000", got)
	}
	if got := readUJ(t, energyPath(dir, "b")); got != 3e6 {
		t.Errorf("after restart vm b: energy_uj = %d, want 3000000", got)
	}

	// Close marks live shares stopped.
	if err := y.Close(); err != nil {
		t.Fatal(err)
	}
	var m vmshare.Meta
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(dir, "b", vmshare.MetaFile))), &m); err != nil {
		t.Fatal(err)
	}
	if !m.Stopped {
		t.Errorf("after Close, vm b's wattlens.json says stopped = false")
	}
}

// TestForget: a VM missing from one snapshot (its process could not be
// read that tick) is kept; one missing from forgetAfter in a row is
// forgotten, and comes back from its share's counter.
func TestForget(t *testing.T) {
	dir := t.TempDir()
	var log logBuffer
	x := newExporter(t, dir, Options{Logger: log.logger()})
	seq := uint64(0)
	next := func(procs ...snapshot.Process) {
		seq++
		export(t, x, tick(seq, time.Second, procs...))
	}
	next(proc(1, "a", units.Joule))
	next()
	next(proc(1, "a", units.Joule))
	if strings.Contains(log.String(), "vm gone") {
		t.Errorf("a VM missing from one snapshot was forgotten:\n%s", log.String())
	}
	for range forgetAfter {
		next()
	}
	if _, ok := x.vms["a"]; ok || !strings.Contains(log.String(), "vm gone") {
		t.Errorf("a VM missing from %d snapshots is still kept", forgetAfter)
	}
	next(proc(1, "a", units.Joule))
	if got := readUJ(t, energyPath(dir, "a")); got != 3e6 {
		t.Errorf("energy_uj = %d, want 3000000", got)
	}
}

// TestFreshMountOverVMDir: a tmpfs mounted over a VM's directory while
// the exporter runs (here: the directory emptied) gets the whole share
// again at the next tick, counter included.
func TestFreshMountOverVMDir(t *testing.T) {
	dir := t.TempDir()
	x := newExporter(t, dir, Options{})
	export(t, x, tick(1, time.Second, proc(1, "vm", units.Joule)))
	if err := os.RemoveAll(filepath.Join(dir, "vm")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "vm"), 0o755); err != nil {
		t.Fatal(err)
	}
	export(t, x, tick(2, time.Second, proc(1, "vm", units.Joule)))
	for _, f := range []string{vmshare.NameFile, vmshare.MaxRangeFile, vmshare.EnergyFile, "../" + vmshare.MetaFile} {
		if _, err := os.Stat(filepath.Join(dir, "vm", vmshare.ZoneDir, f)); err != nil {
			t.Errorf("after a fresh mount: %v", err)
		}
	}
	if got := readUJ(t, energyPath(dir, "vm")); got != 2e6 {
		t.Errorf("energy_uj = %d, want 2000000", got)
	}
}

func TestRootCreated(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b", "qemu")
	x := newExporter(t, dir, Options{})
	export(t, x, tick(1, time.Second, proc(1, "vm", units.Joule)))
	if got := readUJ(t, energyPath(dir, "vm")); got != 1e6 {
		t.Errorf("energy_uj = %d", got)
	}
}

// TestModes: directories 0755 and files 0644 whatever the umask, so the
// guest can read and nobody else can write.
func TestModes(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	dir := filepath.Join(t.TempDir(), "qemu")
	x := newExporter(t, dir, Options{})
	export(t, x, tick(1, time.Second, proc(1, "vm", units.Joule)))
	for path, want := range map[string]os.FileMode{
		filepath.Join(dir, "vm"):                                        os.ModeDir | 0o755,
		filepath.Join(dir, "vm", vmshare.ZoneDir):                       os.ModeDir | 0o755,
		filepath.Join(dir, "vm", vmshare.ZoneDir, vmshare.EnergyFile):   0o644,
		filepath.Join(dir, "vm", vmshare.ZoneDir, vmshare.NameFile):     0o644,
		filepath.Join(dir, "vm", vmshare.ZoneDir, vmshare.MaxRangeFile): 0o644,
		filepath.Join(dir, "vm", vmshare.MetaFile):                      0o644,
	} {
		fi, err := os.Lstat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v", path, fi.Mode(), want)
		}
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o755 {
		t.Errorf("--qemu.dir created with mode %v, want 0755", fi.Mode().Perm())
	}
}

// TestAtomicWrites: a reader looping on energy_uj while the exporter
// writes never sees an empty, partial or backward value.
func TestAtomicWrites(t *testing.T) {
	dir := t.TempDir()
	x := newExporter(t, dir, Options{})
	export(t, x, tick(1, time.Millisecond, proc(1, "vm", 1)))

	var stop atomic.Bool
	var reads atomic.Int64
	errc := make(chan error, 2)
	var wg sync.WaitGroup
	for _, name := range []string{vmshare.EnergyFile, "../" + vmshare.MetaFile} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			path := filepath.Join(dir, "vm", vmshare.ZoneDir, name)
			var last uint64
			for !stop.Load() {
				b, err := os.ReadFile(path)
				if err != nil {
					errc <- err
					return
				}
				var v uint64
				if name == vmshare.EnergyFile {
					v, err = strconv.ParseUint(string(bytes.TrimSuffix(b, []byte("\n"))), 10, 64)
				} else {
					var m vmshare.Meta
					err = json.Unmarshal(b, &m)
					v = m.EnergyUJ
				}
				if err != nil {
					errc <- errors.New(name + ": torn read " + strconv.Quote(string(b)))
					return
				}
				if v < last {
					errc <- errors.New(name + ": went backwards")
					return
				}
				last = v
				reads.Add(1)
			}
		}()
	}
	// Values of growing length (1, 12, 123, … µJ) so a torn read shows.
	delta := units.Energy(1)
	for seq := uint64(2); seq < 400; seq++ {
		export(t, x, tick(seq, time.Millisecond, proc(1, "vm", delta)))
		delta = delta*10 + units.Energy(seq%10)
		if delta > 1e9 {
			delta = 1
		}
	}
	stop.Store(true)
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	if reads.Load() < 100 {
		t.Logf("only %d concurrent reads happened", reads.Load())
	}
	// No temporary file is left behind.
	for _, d := range []string{filepath.Join(dir, "vm"), filepath.Join(dir, "vm", vmshare.ZoneDir)} {
		entries, _ := os.ReadDir(d)
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ".tmp") {
				t.Errorf("temporary file left: %s", filepath.Join(d, e.Name()))
			}
		}
	}
}

// logBuffer collects log lines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuffer) logger() *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }

// TestHostileNames: whatever a VM's name, its share is one directory
// directly below --qemu.dir, nothing is written outside, and the renaming
// is logged once.
func TestHostileNames(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "qemu")
	var log logBuffer
	x := newExporter(t, dir, Options{Logger: log.logger()})
	names := []string{
		"../../etc", "a/b", "/abs", "\x1b[31mred", strings.Repeat("x", 10000), ".", "..",
		".hidden", "-rf", "sp ace", "nul\x00byte", "é", "ok-name_1.2",
	}
	for seq := uint64(1); seq <= 2; seq++ {
		var procs []snapshot.Process
		for i, n := range names {
			procs = append(procs, proc(100+i, n, units.Joule))
		}
		export(t, x, tick(seq, time.Second, procs...))
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(names) {
		t.Errorf("%d directories for %d VMs", len(entries), len(names))
	}
	for _, n := range names {
		d, _ := DirName(n)
		if got := readUJ(t, energyPath(dir, d)); got != 2e6 {
			t.Errorf("vm %.20q (dir %q): energy_uj = %d, want 2000000", n, d, got)
		}
	}
	for _, e := range entries {
		if !e.IsDir() || e.Type()&os.ModeSymlink != 0 {
			t.Errorf("%s is not a plain directory", e.Name())
		}
	}
	parentEntries, _ := os.ReadDir(parent)
	if len(parentEntries) != 1 {
		t.Errorf("something was written next to --qemu.dir: %v", parentEntries)
	}
	if _, err := os.Stat(filepath.Join(dir, vmshare.ZoneDir)); err == nil {
		t.Errorf("a VM's zone was written straight into --qemu.dir")
	}
	if got := strings.Count(log.String(), "not a safe directory name"); got != len(names)-1 {
		t.Errorf("logged %d renames, want %d (once per unsafe name):\n%s", got, len(names)-1, log.String())
	}
}

func TestDirName(t *testing.T) {
	tests := []struct {
		in      string
		want    string // "" means: check only the shape
		changed bool
	}{
		{"vm1", "vm1", false},
		{"instance-0000abcd", "instance-0000abcd", false},
		{"web01.example.com", "web01.example.com", false},
		{"_x", "_x", false},
		{strings.Repeat("a", 64), strings.Repeat("a", 64), false},
		{strings.Repeat("a", 65), "", true},
		{"../../etc", "", true},
		{"a/b", "", true},
		{"\x1b[31m", "", true},
		{strings.Repeat("y", 10000), "", true},
		{"", "", true},
		{".", "", true},
		{"..", "", true},
		{".hidden", "", true},
		{"-n", "", true},
		{"a b", "", true},
	}
	seen := map[string]string{}
	for _, tt := range tests {
		t.Run(strconv.Quote(shorten(tt.in)), func(t *testing.T) {
			got, changed := DirName(tt.in)
			if changed != tt.changed {
				t.Errorf("DirName changed = %v, want %v", changed, tt.changed)
			}
			if tt.want != "" && got != tt.want {
				t.Errorf("DirName = %q, want %q", got, tt.want)
			}
			if !validDirName(got) || got == "." || got == ".." || strings.ContainsAny(got, "/\x00") {
				t.Errorf("DirName = %q: not a safe single path component", got)
			}
			if again, _ := DirName(tt.in); again != got {
				t.Errorf("DirName is not stable: %q then %q", got, again)
			}
			if other, ok := seen[got]; ok && other != tt.in {
				t.Errorf("%q and %q share directory %q", other, tt.in, got)
			}
			seen[got] = tt.in
		})
	}
	// Names that differ only in unsafe bytes get different directories.
	a, _ := DirName("a/b")
	b, _ := DirName("a:b")
	if a == b {
		t.Errorf("a/b and a:b share directory %q", a)
	}
}

// TestSymlinksNotFollowed: a symbolic link planted under --qemu.dir, as a
// VM's directory, its zone directory, its energy_uj or the temporary file
// name, is never written through; the other VMs are written as usual.
func TestSymlinksNotFollowed(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "qemu")
	decoy := filepath.Join(parent, "etc") // stands for /etc
	for _, d := range []string{dir, decoy, filepath.Join(dir, "vm2"), filepath.Join(dir, "vm3", vmshare.ZoneDir), filepath.Join(dir, "vm4", vmshare.ZoneDir)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	decoyFile := filepath.Join(decoy, "passwd")
	if err := os.WriteFile(decoyFile, []byte("root:x:0:0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	links := map[string]string{
		filepath.Join(dir, "evil"):                                              decoy,     // the VM's directory
		filepath.Join(dir, "vm2", vmshare.ZoneDir):                              decoy,     // its zone directory
		filepath.Join(dir, "vm3", vmshare.ZoneDir, vmshare.EnergyFile):          decoyFile, // energy_uj itself
		filepath.Join(dir, "vm4", vmshare.ZoneDir, tmpName(vmshare.EnergyFile)): decoyFile, // the temporary file
	}
	for link, target := range links {
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
	}
	var log logBuffer
	x := newExporter(t, dir, Options{Logger: log.logger()})
	for seq := uint64(1); seq <= 3; seq++ {
		export(t, x, tick(seq, time.Second,
			proc(1, "evil", units.Joule), proc(2, "vm2", units.Joule),
			proc(3, "vm3", units.Joule), proc(4, "vm4", units.Joule), proc(5, "good", units.Joule)))
	}

	decoyEntries, _ := os.ReadDir(decoy)
	if len(decoyEntries) != 1 {
		t.Errorf("the link target was written into: %v", decoyEntries)
	}
	if got := readFile(t, decoyFile); got != "root:x:0:0\n" {
		t.Errorf("the link target file was overwritten: %q", got)
	}
	for _, link := range []string{filepath.Join(dir, "evil"), filepath.Join(dir, "vm2", vmshare.ZoneDir)} {
		if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Errorf("%s: the planted link should be left alone, refused", link)
		}
	}
	// A link at a file name is replaced by the file (rename does not
	// follow it), never written through.
	for _, vm := range []string{"vm3", "vm4", "good"} {
		fi, err := os.Lstat(energyPath(dir, vm))
		if err != nil || !fi.Mode().IsRegular() {
			t.Errorf("%s energy_uj is not a regular file: %v %v", vm, fi, err)
			continue
		}
		if got := readUJ(t, energyPath(dir, vm)); got != 3e6 {
			t.Errorf("%s energy_uj = %d, want 3000000", vm, got)
		}
	}
	if got := strings.Count(log.String(), "cannot write vm share"); got != 2 {
		t.Errorf("logged %d write failures, want 2 (evil and vm2, once each):\n%s", got, log.String())
	}
	if !strings.Contains(log.String(), "not followed") {
		t.Errorf("the log does not say the link was not followed:\n%s", log.String())
	}
}

func tmpName(name string) string { return "." + name + "." + strconv.Itoa(os.Getpid()) + ".tmp" }

// TestReadBackWithPowercapShape is what a powercap reader pointed at a
// share sees: what the exporter wrote, across a wrap.
func TestReadBackWithPowercapShape(t *testing.T) {
	dir := t.TempDir()
	const max = 50 * units.Joule
	x := newExporter(t, dir, Options{MaxRange: max})
	var prev uint64
	var total uint64
	for seq := uint64(1); seq <= 10; seq++ {
		export(t, x, tick(seq, time.Second, proc(1, "vm", 7*units.Joule)))
		cur := readUJ(t, energyPath(dir, "vm"))
		d, _ := counter.Delta(prev, cur, readUJ(t, filepath.Join(dir, "vm", vmshare.ZoneDir, vmshare.MaxRangeFile)))
		total += d
		prev = cur
	}
	if total != 70e6 {
		t.Errorf("energy seen by a reader = %d µJ, want 70000000", total)
	}
}

// TestHugeRange: a max_energy_range_uj near 2^64 neither panics (advance
// once took the counter modulo max+1, which is 0 for 2^64-1) nor loses
// energy; New refuses ranges beyond MaxRangeLimit.
func TestHugeRange(t *testing.T) {
	for _, max := range []units.Energy{math.MaxUint64, MaxRangeLimit + 1} {
		_, err := New(t.TempDir(), Options{MaxRange: max})
		if err == nil || !strings.Contains(err.Error(), strconv.FormatUint(uint64(max), 10)) {
			t.Errorf("New(MaxRange %d) error = %v, want one naming the range", uint64(max), err)
		}
	}

	for _, max := range []units.Energy{math.MaxUint64, math.MaxUint64 - 1, MaxRangeLimit} {
		for _, tt := range []struct{ old, delta units.Energy }{
			{0, 0}, {0, 1}, {max - 1, 1}, {max, 1}, {max, 0}, {max - 5, 10}, {max / 2, max - 1}, {max, max - 1},
		} {
			got := advance(tt.old, tt.delta, max)
			if got > max {
				t.Fatalf("advance(%d, %d, %d) = %d, beyond the range", tt.old, tt.delta, max, got)
			}
			if d, _ := counter.Delta(uint64(tt.old), uint64(got), uint64(max)); d != uint64(tt.delta) {
				t.Errorf("advance(%d, %d, %d) = %d; counter.Delta gives back %d", tt.old, tt.delta, max, got, d)
			}
		}
	}
	// A counter beyond the range (never written by the exporter) is
	// brought back into it.
	if got := advance(1500, 10, 1000); got != 1500%1001+10 {
		t.Errorf("advance(1500, 10, 1000) = %d, want %d", got, 1500%1001+10)
	}

	// The exporter itself, with the largest range it takes and with one
	// it refuses (set behind New's back, as the crash was reached).
	for _, max := range []units.Energy{MaxRangeLimit, math.MaxUint64} {
		dir := t.TempDir()
		x := newExporter(t, dir, Options{MaxRange: MaxRangeLimit})
		x.opts.MaxRange = max
		export(t, x, tick(1, time.Second, proc(1, "vm", max-units.Joule)))
		export(t, x, tick(2, time.Second, proc(1, "vm", 3*units.Joule)))
		if got := readUJ(t, energyPath(dir, "vm")); got != 2e6 {
			t.Errorf("range %d: energy_uj = %d after a wrap, want 2000000", uint64(max), got)
		}
	}
}

// readMeta reads a VM's wattlens.json.
func readMeta(t *testing.T, dir, vm string) vmshare.Meta {
	t.Helper()
	var m vmshare.Meta
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(dir, vm, vmshare.MetaFile))), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestCounterEpoch: the counter epoch written in wattlens.json stays the
// same as long as the counter is carried on (another tick, a restart of
// the exporter, a VM forgotten and back), and changes, always upwards,
// whenever it is not (a new share, a changed range, an unreadable
// share), so that a guest never reads a counter that restarted lower as a
// wrap.
func TestCounterEpoch(t *testing.T) {
	dir := t.TempDir()
	var log logBuffer
	clock := t0
	seq := uint64(0)
	start := func(max units.Energy) *Exporter {
		t.Helper()
		clock = clock.Add(time.Minute)
		x := newExporter(t, dir, Options{MaxRange: max, Logger: log.logger()})
		x.now = func() time.Time { return clock }
		return x
	}
	next := func(x *Exporter, e units.Energy) vmshare.Meta {
		t.Helper()
		seq++
		export(t, x, tick(seq, time.Second, proc(1, "vm", e)))
		m := readMeta(t, dir, "vm")
		if got := readUJ(t, energyPath(dir, "vm")); got != m.EnergyUJ {
			t.Fatalf("energy_uj %d, wattlens.json says %d", got, m.EnergyUJ)
		}
		return m
	}
	const max = 100 * units.Joule

	x := start(max)
	m := next(x, 60*units.Joule)
	epoch := m.CounterEpoch
	if epoch != uint64(clock.UnixNano()) || m.Version != vmshare.MetaVersion {
		t.Fatalf("new share: counter_epoch %d, version %d; want %d (when the series started), %d",
			epoch, m.Version, clock.UnixNano(), vmshare.MetaVersion)
	}
	if m = next(x, 60*units.Joule); m.CounterEpoch != epoch || m.EnergyUJ != 20e6 {
		t.Fatalf("a wrap: counter_epoch %d, energy_uj %d; want %d, 20000000", m.CounterEpoch, m.EnergyUJ, epoch)
	}

	// The exporter restarts, cleanly or not: the counter goes on, in the
	// same epoch.
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	x = start(max)
	if m = next(x, units.Joule); m.CounterEpoch != epoch || m.EnergyUJ != 21e6 {
		t.Fatalf("restart: counter_epoch %d, energy_uj %d; want %d, 21000000", m.CounterEpoch, m.EnergyUJ, epoch)
	}
	x = start(max) // killed: no Close
	if m = next(x, units.Joule); m.CounterEpoch != epoch || m.EnergyUJ != 22e6 {
		t.Fatalf("restart after a kill: counter_epoch %d, energy_uj %d; want %d, 22000000", m.CounterEpoch, m.EnergyUJ, epoch)
	}

	// The VM is forgotten and comes back.
	for range forgetAfter {
		seq++
		export(t, x, tick(seq, time.Second))
	}
	if m = next(x, units.Joule); m.CounterEpoch != epoch || m.EnergyUJ != 23e6 {
		t.Fatalf("vm back: counter_epoch %d, energy_uj %d; want %d, 23000000", m.CounterEpoch, m.EnergyUJ, epoch)
	}

	// The range changes: a new epoch, whether the counter fits the new
	// range (it goes on from there) or not (it starts again from 0).
	x = start(50 * units.Joule)
	m = next(x, units.Joule)
	if m.CounterEpoch <= epoch || m.EnergyUJ != 24e6 || m.MaxRangeUJ != 50e6 {
		t.Fatalf("larger range: counter_epoch %d (was %d), energy_uj %d, range %d; want a later epoch, 24000000, 50000000",
			m.CounterEpoch, epoch, m.EnergyUJ, m.MaxRangeUJ)
	}
	if got := readUJ(t, filepath.Join(dir, "vm", vmshare.ZoneDir, vmshare.MaxRangeFile)); got != 50e6 {
		t.Errorf("max_energy_range_uj = %d, want 50000000", got)
	}
	if !strings.Contains(log.String(), "changed from 100000000 to 50000000") {
		t.Errorf("the new epoch's reason is not logged:\n%s", log.String())
	}
	epoch = m.CounterEpoch
	x = start(10 * units.Joule)
	if m = next(x, units.Joule); m.CounterEpoch <= epoch || m.EnergyUJ != 1e6 {
		t.Fatalf("range below the counter: counter_epoch %d (was %d), energy_uj %d; want a later epoch, 1000000",
			m.CounterEpoch, epoch, m.EnergyUJ)
	}
	epoch = m.CounterEpoch

	// The host's clock went back: the new epoch is still a new one.
	clock = clock.Add(-time.Hour)
	x = newExporter(t, dir, Options{MaxRange: 20 * units.Joule})
	x.now = func() time.Time { return clock }
	if m = next(x, units.Joule); m.CounterEpoch != epoch+1 {
		t.Fatalf("clock went back: counter_epoch %d, want %d", m.CounterEpoch, epoch+1)
	}
	epoch = m.CounterEpoch
	clock = clock.Add(time.Hour)

	// wattlens.json cannot be read: the counter goes on, in a new epoch.
	if err := os.WriteFile(filepath.Join(dir, "vm", vmshare.MetaFile), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	x = start(20 * units.Joule)
	if m = next(x, units.Joule); m.CounterEpoch == epoch || m.EnergyUJ != 3e6 {
		t.Fatalf("unreadable heartbeat: counter_epoch %d (was %d), energy_uj %d; want a new epoch, 3000000",
			m.CounterEpoch, epoch, m.EnergyUJ)
	}

	// A share written by an exporter that recorded no epoch is epoch 0,
	// and goes on as such; so does one without wattlens.json.
	b := readFile(t, filepath.Join(dir, "vm", vmshare.MetaFile))
	b = regexp.MustCompile(`"counter_epoch":\d+,`).ReplaceAllString(b, "")
	if strings.Contains(b, "counter_epoch") {
		t.Fatalf("cannot remove counter_epoch from %s", b)
	}
	if err := os.WriteFile(filepath.Join(dir, "vm", vmshare.MetaFile), []byte(b), 0o644); err != nil {
		t.Fatal(err)
	}
	x = start(20 * units.Joule)
	if m = next(x, units.Joule); m.CounterEpoch != 0 || m.EnergyUJ != 4e6 {
		t.Fatalf("share of a version-1 exporter: counter_epoch %d, energy_uj %d; want 0, 4000000", m.CounterEpoch, m.EnergyUJ)
	}
	if err := os.Remove(filepath.Join(dir, "vm", vmshare.MetaFile)); err != nil {
		t.Fatal(err)
	}
	x = start(20 * units.Joule)
	if m = next(x, units.Joule); m.CounterEpoch != 0 || m.EnergyUJ != 5e6 {
		t.Fatalf("share without wattlens.json: counter_epoch %d, energy_uj %d; want 0, 5000000", m.CounterEpoch, m.EnergyUJ)
	}

	// energy_uj cannot be read, or the share is gone: a new epoch from 0.
	if err := os.WriteFile(energyPath(dir, "vm"), []byte("junk\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	x = start(20 * units.Joule)
	if m = next(x, units.Joule); m.CounterEpoch == 0 || m.EnergyUJ != 1e6 {
		t.Fatalf("unreadable energy_uj: counter_epoch %d, energy_uj %d; want a new epoch, 1000000", m.CounterEpoch, m.EnergyUJ)
	}
	epoch = m.CounterEpoch
	if err := os.RemoveAll(filepath.Join(dir, "vm")); err != nil {
		t.Fatal(err)
	}
	x = start(20 * units.Joule)
	if m = next(x, units.Joule); m.CounterEpoch <= epoch || m.EnergyUJ != 1e6 {
		t.Fatalf("share gone: counter_epoch %d (was %d), energy_uj %d; want a later epoch, 1000000", m.CounterEpoch, epoch, m.EnergyUJ)
	}
	epoch = m.CounterEpoch

	// A fresh tmpfs over the VM's directory while the exporter runs: the
	// exporter still holds the counter, which goes on in its epoch.
	if err := os.RemoveAll(filepath.Join(dir, "vm")); err != nil {
		t.Fatal(err)
	}
	if m = next(x, units.Joule); m.CounterEpoch != epoch || m.EnergyUJ != 2e6 {
		t.Fatalf("fresh mount: counter_epoch %d, energy_uj %d; want %d, 2000000", m.CounterEpoch, m.EnergyUJ, epoch)
	}
}

// TestStaleTemporariesRemoved: an exporter SIGKILLed between create and
// rename left ".energy_uj.<pid>.tmp" in a share; the next one removes it
// when it first sees the VM, and leaves other files alone.
func TestStaleTemporariesRemoved(t *testing.T) {
	dir := t.TempDir()
	zone := filepath.Join(dir, "vm1", vmshare.ZoneDir)
	if err := os.MkdirAll(zone, 0o755); err != nil {
		t.Fatal(err)
	}
	stale := []string{filepath.Join(zone, ".energy_uj.99999999.tmp"), filepath.Join(dir, "vm1", "."+vmshare.MetaFile+".4242.tmp")}
	keep := filepath.Join(zone, "notes.tmp")
	for _, p := range append(stale, keep) {
		if err := os.WriteFile(p, []byte("1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	x := newExporter(t, dir, Options{Step: 2 * time.Second})
	x.now = func() time.Time { return t0 }
	export(t, x, tick(1, 2*time.Second, proc(100, "vm1", units.Joule)))
	for _, p := range stale {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: still there (%v)", p, err)
		}
	}
	if _, err := os.Stat(keep); err != nil {
		t.Errorf("%s removed: %v", keep, err)
	}
	if got := readUJ(t, energyPath(dir, "vm1")); got != 1_000_000 {
		t.Errorf("energy_uj = %d, want 1000000", got)
	}
}

// TestGuestCountLogged: the exporter says how many guests it found and
// where it writes, after the first snapshot (none is news too) and when
// the number changes, not at every tick.
func TestGuestCountLogged(t *testing.T) {
	dir := t.TempDir()
	var logs logBuffer
	x := newExporter(t, dir, Options{Logger: logs.logger()})
	count := func(want string) int {
		t.Helper()
		return strings.Count(logs.String(), want)
	}
	export(t, x, tick(1, time.Second, proc(10, "", units.Joule)))
	export(t, x, tick(2, time.Second, proc(10, "", units.Joule)))
	if n := count("no qemu/KVM guest found"); n != 1 || !strings.Contains(logs.String(), "guests=0 dir="+dir) {
		t.Errorf("no guest: logged %d times, want once with guests=0 dir=%s:\n%s", n, dir, logs.String())
	}
	export(t, x, tick(3, time.Second, proc(11, "web", units.Joule), proc(12, "db", units.Joule)))
	export(t, x, tick(4, time.Second, proc(11, "web", units.Joule), proc(12, "db", units.Joule)))
	if n := count("guests=2 dir=" + dir + " vms=db,web"); n != 1 {
		t.Errorf("two guests: logged %d times, want once:\n%s", n, logs.String())
	}
}
