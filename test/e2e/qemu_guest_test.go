package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wattlens/wattlens/internal/citest"
	"github.com/wattlens/wattlens/internal/exporter/qemu"
	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/procinfo"
	"github.com/wattlens/wattlens/internal/snapshot"
	"github.com/wattlens/wattlens/internal/units"
)

// qgWatts is the power the host side writes for the guest.
const qgWatts = 7.0

// TestQemuGuest boots a real Linux guest under qemu-system-x86_64 (TCG
// software emulation: no /dev/kvm needed) with a Debian kernel and an
// initramfs this test builds: a static wattlens, the 9p modules, and a
// small init that mounts the VM's share (a host directory shared over
// virtio-9p, read-only) at /var/wattlens, runs `wattlens --vm json --step 1
// --timeout 8s` with its output on the serial console, and powers off.
//
// On the host side, the qemu exporter (the code `wattlens qemu` runs)
// writes the share as the VM uses a steady 7 W. The test reads the
// guest's JSON lines from the serial console and checks that the guest saw
// its energy advance at 7 W within 5 %.
//
// qemu and the kernel come from test/setup-qemu.sh. Without them the test
// skips, except under CI (citest.Running), where it fails.
func TestQemuGuest(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test: boots a qemu guest (about a minute)")
	}
	qemuBin := qgNeed(t, "qemu-system-x86_64", func() (string, error) { return exec.LookPath("qemu-system-x86_64") })
	kernel := qgNeed(t, "Linux kernel image", qgFindKernel)
	kver := strings.TrimPrefix(filepath.Base(kernel), "vmlinuz-")
	modules, err := qgModules(qgModulesDir(kver), []string{"virtio_pci", "9pnet_virtio", "9p"})
	if err != nil {
		t.Fatalf("kernel %s: %v", kernel, err)
	}

	work := t.TempDir()
	// The guest is x86_64 whatever the host is.
	wattlens := qgBuild(t, work, "wattlens", qgModuleRoot(t), "./cmd/wattlens", "GOOS=linux", "GOARCH=amd64")
	initBin := qgBuildSource(t, work, "init", qgInitSource, "GOOS=linux", "GOARCH=amd64")
	initrd := filepath.Join(work, "initramfs.cpio")
	if err := qgWriteInitramfs(initrd, initBin, wattlens, modules); err != nil {
		t.Fatal(err)
	}

	// The host side: the qemu exporter writes the share of VM "guest1"
	// below its --qemu.dir every 100 ms, at a steady 7 W, wrapping at
	// 20 J so the guest meets a few wraps.
	shares := filepath.Join(work, "qemu")
	writer := qgStartWriter(t, shares, "guest1", qgWatts, 100*time.Millisecond, 20*units.Joule)
	defer writer.stop()

	serial := &vmLines{}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	args := []string{
		"-accel", "tcg", "-m", "256", "-smp", "1", "-nographic", "-no-reboot",
		"-kernel", kernel, "-initrd", initrd,
		"-append", "console=ttyS0 quiet loglevel=3 panic=-1 rdinit=/init",
		"-virtfs", "local,path=" + filepath.Join(shares, "guest1") + ",mount_tag=wattlens,security_model=none,readonly=on",
		"-nic", "none",
	}
	cmd := exec.CommandContext(ctx, qemuBin, args...)
	cmd.Stdout, cmd.Stderr = serial, serial
	start := time.Now()
	err = cmd.Run()
	elapsed := time.Since(start)
	writer.stop()
	if t.Failed() || err != nil || ctx.Err() != nil {
		for _, l := range serial.lines() {
			t.Logf("serial: %s", l)
		}
	}
	if ctx.Err() != nil {
		t.Fatalf("the guest did not power off within 4 minutes")
	}
	if err != nil {
		t.Fatalf("qemu: %v", err)
	}
	t.Logf("guest booted, measured and powered off in %s", elapsed.Round(100*time.Millisecond))
	for _, l := range serial.lines() {
		if strings.Contains(l, "WATTLENS-INIT ") || strings.Contains(l, "WATTLENS-LOG ") {
			t.Logf("serial: %s", l)
		}
	}

	var recs []vmRecord
	var raw []map[string]any
	for _, l := range serial.lines() {
		i := strings.Index(l, "WATTLENS-JSON ")
		if i < 0 {
			continue
		}
		line := l[i+len("WATTLENS-JSON "):]
		var r vmRecord
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("guest printed a line that is not JSON: %q: %v", line, err)
		}
		_ = json.Unmarshal([]byte(line), &m)
		recs = append(recs, r)
		raw = append(raw, m)
	}
	if !slices.ContainsFunc(serial.lines(), func(l string) bool { return strings.Contains(l, "WATTLENS-INIT wattlens exited: ok") }) {
		t.Errorf("guest wattlens did not exit cleanly (see the serial log)")
	}
	var up []vmRecord
	for _, r := range recs {
		if r.SensorUp {
			up = append(up, r)
		}
	}
	if len(up) < 4 {
		for _, l := range serial.lines() {
			t.Logf("serial: %s", l)
		}
		t.Fatalf("the guest printed %d lines with its sensor up, want at least 4", len(up))
	}
	qgCheckRecord(t, raw[len(raw)-1])

	slope := qgSlope(up)
	wraps := up[len(up)-1].Wraps
	t.Logf("guest saw %.3f W over %d lines, %d wraps (host wrote %.3f W, %.3f J in all)", slope, len(up), wraps, qgWatts, writer.joules())
	if wraps == 0 {
		t.Errorf("the guest saw no wrap of energy_uj: the test did not exercise wrapping")
	}
	if math.Abs(slope-qgWatts) > 0.05*qgWatts {
		t.Errorf("guest saw its energy advance at %.3f W, want %.1f W within 5 %%", slope, qgWatts)
	}
}

// qgCheckRecord checks what the guest says of its sensor: the vm sensor,
// measured, with an idle power of 0 from its model.
func qgCheckRecord(t *testing.T, m map[string]any) {
	t.Helper()
	if got := m["sensor"]; got != "vm" {
		t.Errorf("guest sensor = %v, want vm", got)
	}
	if method, _ := m["method"].(string); !strings.Contains(method, "/var/wattlens") {
		t.Errorf("guest method = %q, want the share's path", method)
	}
	host, _ := m["host"].(map[string]any)
	if got := host["source"]; got != "measured" {
		t.Errorf("guest host source = %v, want measured", got)
	}
	if got := host["idle_power_watts"]; got != 0.0 {
		t.Errorf("guest idle power = %v, want 0 (the host booked idle)", got)
	}
}

// qgSlope is the least-squares slope of the guest's cumulative host energy
// against its timestamps, in watts.
func qgSlope(recs []vmRecord) float64 {
	t0 := recs[0].Time()
	var n, sx, sy, sxx, sxy float64
	for _, r := range recs {
		x := r.Time().Sub(t0).Seconds()
		y := r.Host.EnergyJoules
		n++
		sx += x
		sy += y
		sxx += x * x
		sxy += x * y
	}
	return (n*sxy - sx*sy) / (n*sxx - sx*sx)
}

// qgModuleRoot returns the directory of wattlens's go.mod.
func qgModuleRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		t.Fatal("not inside the wattlens module")
	}
	return filepath.Dir(gomod)
}

// qgBuild builds pkg of the module at dir into work/name, statically
// (CGO_ENABLED=0) so the same binary runs in a guest; env adds to the
// build's environment (GOARCH=amd64 for an x86_64 guest).
func qgBuild(t *testing.T, work, name, dir, pkg string, env ...string) string {
	t.Helper()
	out := filepath.Join(work, name)
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, pkg)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "CGO_ENABLED=0"), env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	return out
}

// qgBuildSource builds a one-file, standard-library-only main package.
func qgBuildSource(t *testing.T, work, name, src string, env ...string) string {
	t.Helper()
	dir := filepath.Join(work, name+"-src")
	vmMkdir(t, dir)
	vmWriteFile(t, filepath.Join(dir, "go.mod"), "module "+name+"\n\ngo 1.22\n")
	vmWriteFile(t, filepath.Join(dir, "main.go"), src)
	return qgBuild(t, work, name, dir, ".", env...)
}

// qgNeed returns what find finds, or skips the test; under CI it fails
// instead, since CI must really run it (citest.Missing).
func qgNeed(t *testing.T, what string, find func() (string, error)) string {
	t.Helper()
	p, err := find()
	if err == nil {
		return p
	}
	msg := fmt.Sprintf("%s not found (%v): run test/setup-qemu.sh (as root) to install Debian's qemu-system-x86 and linux-image-amd64", what, err)
	citest.Missing(t, msg)
	return ""
}

// qgFindKernel returns $WATTLENS_E2E_KERNEL, or the newest readable
// /boot/vmlinuz-<version> whose modules are in /lib/modules/<version>.
func qgFindKernel() (string, error) {
	if k := os.Getenv("WATTLENS_E2E_KERNEL"); k != "" {
		f, err := os.Open(k)
		if err != nil {
			return "", err
		}
		return k, f.Close()
	}
	ks, _ := filepath.Glob("/boot/vmlinuz-*")
	slices.Reverse(ks) // the newest version last in lexical order, roughly
	for _, k := range ks {
		f, err := os.Open(k)
		if err != nil {
			continue
		}
		_ = f.Close()
		if _, err := os.Stat(qgModulesDir(strings.TrimPrefix(filepath.Base(k), "vmlinuz-"))); err == nil {
			return k, nil
		}
	}
	return "", fmt.Errorf("no readable /boot/vmlinuz-* with its /lib/modules")
}

func qgModulesDir(version string) string {
	if d := os.Getenv("WATTLENS_E2E_MODULES"); d != "" {
		return d
	}
	return filepath.Join("/lib/modules", version)
}

// qgModules returns the module files needed for names, dependencies first,
// from the kernel's modules.dep; modules built into the kernel
// (modules.builtin) need no file.
func qgModules(dir string, names []string) ([]string, error) {
	deps := map[string][]string{} // relative path → its dependencies
	byName := map[string]string{} // module name → relative path
	f, err := os.Open(filepath.Join(dir, "modules.dep"))
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		mod, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		deps[mod] = strings.Fields(rest)
		byName[qgModName(mod)] = mod
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	builtin := map[string]bool{}
	if b, err := os.ReadFile(filepath.Join(dir, "modules.builtin")); err == nil {
		for _, l := range strings.Fields(string(b)) {
			builtin[qgModName(l)] = true
		}
	}
	var order []string
	done := map[string]bool{}
	var visit func(mod string)
	visit = func(mod string) {
		if done[mod] {
			return
		}
		done[mod] = true
		for _, d := range deps[mod] {
			visit(d)
		}
		order = append(order, filepath.Join(dir, mod))
	}
	for _, n := range names {
		n = strings.ReplaceAll(n, "-", "_")
		if builtin[n] {
			continue
		}
		mod, ok := byName[n]
		if !ok {
			return nil, fmt.Errorf("module %s is neither in %s/modules.dep nor built in", n, dir)
		}
		visit(mod)
	}
	return order, nil
}

var qgKoSuffix = regexp.MustCompile(`\.ko(\.(xz|zst|gz))?$`)

// qgModName turns kernel/fs/9p/9p.ko into 9p, with '-' as '_'.
func qgModName(path string) string {
	return strings.ReplaceAll(qgKoSuffix.ReplaceAllString(filepath.Base(path), ""), "-", "_")
}

// qgWriteInitramfs writes an uncompressed cpio (newc) archive: /init,
// /bin/wattlens, the modules below /lib/modules with their load order in
// /modules, /dev/console and the mount points.
func qgWriteInitramfs(path, initBin, wattlens string, modules []string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }()
	w := qgNewCpio(bufio.NewWriterSize(f, 1<<20))
	for _, d := range []string{"bin", "dev", "proc", "sys", "var", "var/wattlens", "lib", "lib/modules", "tmp"} {
		w.dir(d)
	}
	w.node("dev/console", 0o020600, 5, 1)
	if err := w.fileFrom("init", initBin); err != nil {
		return err
	}
	if err := w.fileFrom("bin/wattlens", wattlens); err != nil {
		return err
	}
	var order []string
	for _, m := range modules {
		name := "lib/modules/" + filepath.Base(m)
		if err := w.fileFrom(name, m); err != nil {
			return err
		}
		order = append(order, "/"+name)
	}
	w.file("modules", 0o100644, []byte(strings.Join(order, "\n")+"\n"))
	if err := w.close(); err != nil {
		return err
	}
	return f.Close()
}

// qgCpio writes the "newc" cpio format the kernel unpacks into its
// initramfs (Documentation/driver-api/early-userspace/buffer-format.rst):
// per entry a 110-byte ASCII header, the NUL-terminated name and the data,
// each padded to 4 bytes; a TRAILER!!! entry ends the archive.
type qgCpio struct {
	w   *bufio.Writer
	ino uint32
	err error
}

func qgNewCpio(w *bufio.Writer) *qgCpio { return &qgCpio{w: w, ino: 300000} }

func (c *qgCpio) entry(name string, mode uint32, nlink uint32, rdevMajor, rdevMinor uint32, data []byte) {
	if c.err != nil {
		return
	}
	c.ino++
	hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		c.ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rdevMajor, rdevMinor, len(name)+1, 0)
	c.write([]byte(hdr))
	c.write([]byte(name + "\x00"))
	c.pad(len(hdr) + len(name) + 1)
	c.write(data)
	c.pad(len(data))
}

func (c *qgCpio) write(b []byte) {
	if c.err == nil {
		_, c.err = c.w.Write(b)
	}
}

func (c *qgCpio) pad(n int) {
	if r := n % 4; r != 0 {
		c.write(make([]byte, 4-r))
	}
}

func (c *qgCpio) dir(name string) { c.entry(name, 0o040755, 2, 0, 0, nil) }

func (c *qgCpio) node(name string, mode, major, minor uint32) {
	c.entry(name, mode, 1, major, minor, nil)
}

func (c *qgCpio) file(name string, mode uint32, data []byte) { c.entry(name, mode, 1, 0, 0, data) }

func (c *qgCpio) fileFrom(name, path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	c.file(name, 0o100755, b)
	return c.err
}

func (c *qgCpio) close() error {
	c.entry("TRAILER!!!", 0, 1, 0, 0, nil)
	if c.err != nil {
		return c.err
	}
	return c.w.Flush()
}

// qgWriter plays the host's `wattlens qemu`: the qemu exporter, fed
// snapshots in which the VM uses a steady power.
type qgWriter struct {
	done chan struct{}
	once sync.Once
	wg   sync.WaitGroup
	mu   sync.Mutex
	sum  units.Energy
}

func qgStartWriter(t *testing.T, dir, vm string, watts float64, step time.Duration, maxRange units.Energy) *qgWriter {
	t.Helper()
	x, err := qemu.New(dir, qemu.Options{Step: step, MaxRange: maxRange})
	if err != nil {
		t.Fatal(err)
	}
	w := &qgWriter{done: make(chan struct{})}
	draw := units.FromWatts(watts)
	last := time.Now()
	var seq uint64
	tick := func() error {
		now := time.Now()
		d := now.Sub(last)
		last = now
		seq++
		e := draw.EnergyOver(d)
		w.mu.Lock()
		w.sum += e
		w.mu.Unlock()
		return x.Export(context.Background(), &snapshot.Snapshot{
			Seq: seq, Time: now, Interval: d, Sensor: "e2e", SensorUp: true,
			Host: snapshot.Energy{Source: power.Measured},
			Processes: []snapshot.Process{{
				Key:    procinfo.Key{PID: 4242, StartTime: 1},
				Meta:   &procinfo.Meta{Comm: "qemu-system-x86", VM: vm},
				Energy: snapshot.Energy{Delta: e, Source: power.Measured},
			}},
		})
	}
	if err := tick(); err != nil { // the share exists before qemu starts
		t.Fatal(err)
	}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		tk := time.NewTicker(step)
		defer tk.Stop()
		for {
			select {
			case <-w.done:
				return
			case <-tk.C:
				if err := tick(); err != nil {
					t.Errorf("host writer: %v", err)
					return
				}
			}
		}
	}()
	return w
}

func (w *qgWriter) stop() {
	w.once.Do(func() { close(w.done) })
	w.wg.Wait()
}

func (w *qgWriter) joules() float64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.sum.Joules()
}

// qgInitSource is the guest's /init: a static program, standard library
// only. Everything it says goes to the console (the serial port) with a
// prefix the test looks for.
const qgInitSource = `package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"unsafe"
)

// sysFinitModule is finit_module(2) on x86_64 (the standard library's
// syscall package predates it).
const sysFinitModule = 313

var out sync.Mutex

func say(prefix, format string, a ...any) {
	out.Lock()
	defer out.Unlock()
	fmt.Fprintf(os.Stdout, prefix+" "+format+"\n", a...)
}

func main() {
	defer poweroff()
	say("WATTLENS-INIT", "started")
	for _, m := range [][3]string{{"proc", "/proc", "proc"}, {"sysfs", "/sys", "sysfs"}, {"devtmpfs", "/dev", "devtmpfs"}} {
		if err := syscall.Mount(m[0], m[1], m[2], 0, ""); err != nil {
			say("WATTLENS-INIT", "mount %s: %v", m[1], err)
		}
	}
	if err := loadModules("/modules"); err != nil {
		say("WATTLENS-INIT", "modules: %v", err)
		return
	}
	if err := syscall.Mount("wattlens", "/var/wattlens", "9p", syscall.MS_RDONLY, "trans=virtio,version=9p2000.L"); err != nil {
		say("WATTLENS-INIT", "mount the share: %v", err)
		return
	}
	say("WATTLENS-INIT", "share mounted")
	cmd := exec.Command("/bin/wattlens", "--vm", "json", "--step", "1", "--timeout", "8s")
	stdout, _ := cmd.StdoutPipe()
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		say("WATTLENS-INIT", "start wattlens: %v", err)
		return
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go relay(&wg, stdout, "WATTLENS-JSON")
	go relay(&wg, stderr, "WATTLENS-LOG")
	wg.Wait()
	if err := cmd.Wait(); err != nil {
		say("WATTLENS-INIT", "wattlens exited: %v", err)
		return
	}
	say("WATTLENS-INIT", "wattlens exited: ok")
}

func relay(wg *sync.WaitGroup, r io.Reader, prefix string) {
	defer wg.Done()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		say(prefix, "%s", sc.Text())
	}
}

// loadModules loads the modules listed in file, in order, with
// finit_module(2); compressed ones are handed to the kernel to decompress.
func loadModules(file string) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	empty, _ := syscall.BytePtrFromString("")
	for _, path := range strings.Fields(string(b)) {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		flags := uintptr(0)
		if strings.HasSuffix(path, ".xz") || strings.HasSuffix(path, ".zst") || strings.HasSuffix(path, ".gz") {
			flags = 4 // MODULE_INIT_COMPRESSED_FILE
		}
		_, _, errno := syscall.Syscall(sysFinitModule, f.Fd(), uintptr(unsafe.Pointer(empty)), flags)
		f.Close()
		if errno != 0 && errno != syscall.EEXIST {
			return fmt.Errorf("insmod %s: %v", path, errno)
		}
	}
	return nil
}

func poweroff() {
	say("WATTLENS-INIT", "powering off")
	syscall.Sync()
	if err := syscall.Reboot(syscall.LINUX_REBOOT_CMD_POWER_OFF); err != nil {
		say("WATTLENS-INIT", "poweroff: %v", err)
	}
	select {}
}
`
