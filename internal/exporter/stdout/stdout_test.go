package stdout

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/wattlens/wattlens/internal/exporter"
	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/procinfo"
	"github.com/wattlens/wattlens/internal/snapshot"
	"github.com/wattlens/wattlens/internal/snapshot/snapshottest"
	"github.com/wattlens/wattlens/internal/units"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var t0 = time.Date(2026, 11, 25, 12, 0, 2, 345678000, time.UTC)

func process(pid int, m procinfo.Meta, total, delta units.Energy) snapshot.Process {
	return snapshot.Process{Key: procinfo.Key{PID: pid, StartTime: 9}, Meta: &m, Energy: snapshottest.Energy(total, delta), CPUDelta: time.Second}
}

// fixture is a snapshot whose figures balance, with a VM, a kernel thread,
// a long command line, exited processes and unattributed energy.
func fixture() *snapshot.Snapshot {
	procs := []snapshot.Process{
		process(4242, procinfo.Meta{Exe: "/usr/bin/stress-ng", Comm: "stress-ng", Cmdline: "stress-ng --cpu 4 --timeout 60s"}, 100_000_001, 30_000_003),
		process(2001, procinfo.Meta{Exe: "/usr/bin/qemu-system-x86_64", Comm: "qemu-system-x86", VM: "web01",
			Cmdline: "qemu-system-x86_64 -name guest=web01,debug-threads=on -m 2048 -smp 4 -drive file=/var/lib/libvirt/images/web01.qcow2,if=virtio -netdev tap,id=n0 -device virtio-net-pci,netdev=n0"},
			50_000_007, 20_000_001),
		process(812, procinfo.Meta{Exe: "/usr/lib/jvm/java-21-openjdk-amd64/bin/java", Comm: "java", Cmdline: "java -Xmx2g -jar /opt/app/service.jar"}, 40_000_011, 5_000_005),
		process(15, procinfo.Meta{Comm: "kworker/0:1-events"}, 3_000_013, 1_007),
		process(1, procinfo.Meta{Exe: "/usr/lib/systemd/systemd", Comm: "systemd", Cmdline: "/sbin/init splash"}, 7_000_017, 0),
	}
	s := snapshottest.Balance(&snapshot.Snapshot{
		Seq: 7, Time: t0, Interval: 2 * time.Second,
		Sensor: "powercap_rapl", SensorUp: true,
		Idle:      snapshottest.Energy(200_000_023, 20_000_029),
		IdlePower: 10 * units.Watt, IdleOrigin: "learned", IdlePolicy: "separate",
		Exited: 12_345_678, Unattributed: snapshottest.Energy(2_000_019, 500_023),
		Utilisation: 0.375, CPUs: 8,
		Processes: procs,
		Stats:     snapshot.Stats{Processes: 5, Skipped: 1},
	})
	s.Zones = []snapshot.Zone{
		{ID: "intel-rapl:0", Kind: power.KindPackage, Name: "package-0", Socket: 0, Energy: snapshottest.Energy(s.Host.Total-51_000_000, s.Host.Delta-10_400_000)},
		{ID: "intel-rapl:0:0", Kind: power.KindCore, Name: "core", Socket: 0, Energy: snapshottest.Energy(300_000_000, 50_000_000)},
		{ID: "intel-rapl:0:1", Kind: power.KindDRAM, Name: "dram", Socket: 0, Energy: snapshottest.Energy(1_000_000, 400_000)},
		{ID: "intel-rapl:1", Kind: power.KindPackage, Name: "package-1", Socket: 1, Energy: snapshottest.Energy(50_000_000, 10_000_000)},
	}
	return s
}

func estimated() *snapshot.Snapshot {
	s := fixture()
	s.Sensor, s.Method = "estimate", "linear model: 12 W idle to 65 W TDP over CPU utilisation, + 0.4 W per GiB of RAM"
	s.Host.Source = power.Estimated
	s.IdleOrigin = "model"
	s.Zones = []snapshot.Zone{{ID: "estimate:cpu", Kind: power.KindPackage, Name: "cpu", Socket: -1, Energy: s.Host}}
	return s
}

func renderString(t *testing.T, s *snapshot.Snapshot, opts Options) string {
	t.Helper()
	var b bytes.Buffer
	if err := Render(&b, s, opts); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestGolden(t *testing.T) {
	tests := []struct {
		name string
		snap *snapshot.Snapshot
		opts Options
	}{
		{"top3", fixture(), Options{Processes: 3}},
		{"all", fixture(), Options{}},
		{"narrow", fixture(), Options{Processes: 2, Width: 72}},
		{"regex", fixture(), Options{Processes: 5, Filter: exporter.NewFilter(regexp.MustCompile(`java|guest=`))}},
		{"estimated", estimated(), Options{Processes: 2}},
		{"shared_learning", func() *snapshot.Snapshot {
			s := fixture()
			s.IdlePolicy, s.IdleOrigin, s.IdlePower = "shared", "learning", 0
			s.Unattributed = snapshottest.Energy(s.Unattributed.Total+s.Idle.Total, s.Unattributed.Delta+s.Idle.Delta)
			s.Idle = snapshottest.Energy(0, 0)
			return s
		}(), Options{Processes: 1}},
		{"sensor_down", func() *snapshot.Snapshot {
			s := fixture()
			s.SensorUp = false
			s.SensorError = "powercap: zone intel-rapl:0: cannot read /sys/class/powercap/intel-rapl:0/energy_uj: permission denied"
			return s
		}(), Options{Processes: 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := renderString(t, tt.snap, tt.opts)
			path := filepath.Join("testdata", tt.name+".txt")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
			width := tt.opts.Width
			if width == 0 {
				width = DefaultWidth
			}
			for _, l := range strings.Split(got, "\n") {
				if n := utf8.RuneCountInString(l); n > width {
					t.Errorf("line of %d runes, wider than %d: %q", n, width, l)
				}
			}
		})
	}
}

func TestSensorDownShowsNoFigures(t *testing.T) {
	s := fixture()
	s.SensorUp, s.SensorError = false, "boom"
	got := renderString(t, s, Options{Processes: 3})
	if !strings.Contains(got, "SENSOR DOWN: boom") {
		t.Errorf("no sensor-down line:\n%s", got)
	}
	if regexp.MustCompile(`[0-9] (W|J|kJ|mW)\b`).MatchString(got) {
		t.Errorf("figures printed while the sensor is down:\n%s", got)
	}
}

func TestRegexFilter(t *testing.T) {
	f := exporter.NewFilter(regexp.MustCompile(`^/usr/lib/`))
	got := renderString(t, fixture(), Options{Processes: 10, Filter: f})
	for _, want := range []string{"java", "/usr/lib/systemd/systemd", "matching /^/usr/lib//"} {
		if !strings.Contains(got, want) {
			t.Errorf("no %q in\n%s", want, got)
		}
	}
	for _, not := range []string{"stress-ng", "qemu", "kworker"} {
		if strings.Contains(got, not) {
			t.Errorf("%q listed though it does not match:\n%s", not, got)
		}
	}
	// On the command line, not only the executable.
	got = renderString(t, fixture(), Options{Filter: exporter.NewFilter(regexp.MustCompile(`--cpu 4`))})
	if !strings.Contains(got, "4242") || strings.Contains(got, " 812 ") {
		t.Errorf("cmdline filter:\n%s", got)
	}
}

func TestHostileNamesAreNeutralised(t *testing.T) {
	hostile := []string{
		"\x1b[2J\x1b[H",                 // clear the screen
		"\x1b]0;pwned\x07",              // set the window title (OSC)
		"\x1b]8;;http://evil\x1b\\link", // hyperlink (OSC 8, ST)
		"\x9b31m",                       // C1 CSI as one byte: invalid UTF-8
		"\u009b31m",                     // C1 CSI as a rune
		"a\rb\nc\td\bx\x7f",             // carriage return, newline, tab, backspace, DEL
		"evil\u202etxt.exe",             // right-to-left override
		"\u2066isolate\u2069",
		"\xff\xfe",
	}
	s := fixture()
	s.Processes = nil
	for i, h := range hostile {
		m := procinfo.Meta{Exe: "/tmp/" + h, Comm: h, Cmdline: h + " " + h}
		if i%2 == 0 {
			m.VM = h
		}
		if i == 3 {
			m.Exe = "" // shown as [comm]
		}
		s.Processes = append(s.Processes, process(100+i, m, 1, 1))
	}
	s.Method, s.Sensor = "\x1b[31m", "x\x1by"
	s.SensorError = "\x1b[2J"
	for _, up := range []bool{true, false} {
		s.SensorUp = up
		got := renderString(t, s, Options{})
		for _, r := range got {
			if r == '\n' {
				continue
			}
			if !unicode.IsPrint(r) {
				t.Errorf("unprintable %U in output:\n%q", r, got)
			}
		}
		if !utf8.ValidString(got) {
			t.Errorf("invalid UTF-8 in output: %q", got)
		}
		if up {
			// One line per listed process: nothing added a line break.
			lines := strings.Count(got, "\n")
			clean := strings.Count(renderString(t, fixture(), Options{}), "\n") + len(hostile) - len(fixture().Processes)
			if lines != clean {
				t.Errorf("%d lines, want %d:\n%s", lines, clean, got)
			}
			if !strings.Contains(got, `\x1b[2J\x1b[H`) || !strings.Contains(got, `evil\u202etxt.exe`) {
				t.Errorf("escapes not shown for what they are:\n%s", got)
			}
		}
	}
}

func TestExporterOnAPipeWritesNoEscapes(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	x := New(w, Options{Processes: 2})
	if x.term != -1 {
		t.Fatal("a pipe taken for a terminal")
	}
	for range 2 {
		if err := x.Export(context.Background(), fixture()); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := out.ReadFrom(r); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	if strings.ContainsRune(got, '\x1b') {
		t.Errorf("escape code on a pipe: %q", got)
	}
	one := renderString(t, fixture(), Options{Processes: 2})
	if want := one + "\n" + one; got != want {
		t.Errorf("two reports (-want +got):\n%s", cmp.Diff(want, got))
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, os.ErrClosed }

func TestExportError(t *testing.T) {
	if err := New(failWriter{}, Options{}).Export(context.Background(), fixture()); err == nil {
		t.Error("no error from a failing writer")
	}
}

// TestMethodOnceAndUnreadableExe: the estimate's long method line comes
// with the first report only (and again when it changes); a process whose
// executable cannot be read shows its name, and [name] is left to kernel
// threads (no executable, no command line).
func TestMethodOnceAndUnreadableExe(t *testing.T) {
	var b bytes.Buffer
	x := New(&b, Options{Processes: 0, Width: 200})
	s := estimated()
	s.Processes = append(s.Processes, process(900, procinfo.Meta{Comm: "secretd", Cmdline: "secretd --serve"}, 1_000_000, 1_000))
	for i := 0; i < 3; i++ {
		if err := x.Export(context.Background(), s); err != nil {
			t.Fatal(err)
		}
	}
	out := b.String()
	if n := strings.Count(out, s.Method); n != 1 {
		t.Errorf("method printed %d times in 3 reports, want 1:\n%s", n, out)
	}
	if n := strings.Count(out, "the method is in the first report"); n != 2 {
		t.Errorf("%d reminders, want 2", n)
	}
	if strings.Contains(out, "[secretd]") || !strings.Contains(out, "secretd") {
		t.Errorf("a user process with an unreadable exe shown as a kernel thread, or not at all:\n%s", out)
	}
	if !strings.Contains(out, "[kworker/0:1-events]") {
		t.Errorf("kernel thread not in [name] form:\n%s", out)
	}
}
