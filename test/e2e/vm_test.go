package e2e

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wattlens/wattlens/internal/counter"
	"github.com/wattlens/wattlens/internal/polltest"
	"github.com/wattlens/wattlens/internal/sensor/powercap/powercaptest"
)

// TestVMShare runs wattlens's VM support end to end on one machine:
//
//   - fake VMs: the CPU burner exec'd under the names qemu-system-x86_64
//     and kvm, with libvirt, plain-qemu and Proxmox command lines;
//   - a host agent, `wattlens -s powercap_rapl --path.sysfs <fixture> qemu
//     --qemu.dir <dir> --step 1`, on a powercap tree this test advances in
//     real time at a known power, writing each VM's share with a small
//     max_energy_range_uj so it wraps during the test;
//   - a guest agent, `wattlens --vm --vm.path <dir>/vm1 json --step 1`.
//
// It checks that every VM gets its share, that the guest's energy is the
// host's counter to the microjoule across wraps, that the guest's rate
// matches the host's for vm1 within 5 % over the same window, and that the
// guest reports its sensor down (not 0 W) once the host agent stops.
func TestVMShare(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test: builds and runs wattlens for about 20 s")
	}
	work := t.TempDir()
	wattlens := wattlensBin // built by TestMain

	// The fake VMs: copies of the burner named like a hypervisor's qemu
	// binary. The burner's own flags come first and end at "--"; the rest
	// is a qemu command line it ignores.
	bin := filepath.Join(work, "bin")
	vmMkdir(t, bin)
	qemuPath := filepath.Join(bin, "qemu-system-x86_64")
	kvmPath := filepath.Join(bin, "kvm")
	vmCopy(t, burnerBin, qemuPath)
	vmCopy(t, burnerBin, kvmPath)
	vms := []struct {
		duty string
		args []string
	}{
		{"0.5", []string{qemuPath, "-name", "guest=vm1,debug-threads=on", "-S",
			"-object", `{"qom-type":"secret","id":"masterKey0","format":"raw","file":"/var/lib/libvirt/qemu/domain-1-vm1/master-key.aes"}`,
			"-machine", "pc-q35-7.2,usb=off,vmport=off,dump-guest-core=off,memory-backend=pc.ram", "-accel", "kvm",
			"-cpu", "host,migratable=on", "-m", "2048", "-overcommit", "mem-lock=off", "-smp", "2,sockets=2,cores=1,threads=1",
			"-uuid", "5a6f3c1e-8f0b-4d2a-9b7e-1c2d3e4f5a6b", "-no-user-config", "-nodefaults"}},
		{"0.2", []string{qemuPath, "-enable-kvm", "-name", "vm2,process=vm2", "-m", "512", "-nographic"}},
		{"0.2", []string{kvmPath, "-id", "103", "-name", "vm3,debug-threads=on", "-no-shutdown", "-smp", "1"}},
	}
	for _, vm := range vms {
		args := append([]string{vm.args[0], "-duty", vm.duty, "-for", "5m", "--"}, vm.args[1:]...)
		vmStart(t, args, "")
	}

	// The host's RAPL: one package advancing at 40 W in real time.
	sysfs := filepath.Join(work, "sys")
	vmStartRAPL(t, sysfs, 40)

	// The host agent. Idle is fixed at 10 W so the VMs share the rest.
	share := filepath.Join(work, "qemu")
	const maxRange = 20_000_000 // 20 J: vm1 wraps every few seconds
	host := vmStart(t, []string{wattlens, "-s", "powercap_rapl", "--path.sysfs", sysfs, "--idle-power", "10",
		"qemu", "--qemu.dir", share, "--step", "1", "--qemu.max-energy-range-uj", strconv.Itoa(maxRange)}, "")
	vm1 := filepath.Join(share, "vm1")
	vmWaitFor(t, 10*time.Second, func() bool {
		_, err := os.Stat(filepath.Join(vm1, "wattlens.json"))
		return err == nil
	}, "vm1's share to appear", host)

	// Record every write of vm1's share, as the guest could see it.
	hostLog := vmRecordShare(t, vm1)
	defer hostLog.stop()

	// The guest agent.
	guestOut := &vmLines{}
	guest := vmStartOut(t, []string{wattlens, "--vm", "--vm.path", vm1, "json", "--step", "1"}, guestOut)
	vmWaitFor(t, 30*time.Second, func() bool { return len(vmRecords(t, guestOut, true)) >= 10 }, "10 guest lines", guest)

	// Every VM has a share.
	for _, vm := range []string{"vm1", "vm2", "vm3"} {
		if _, err := os.Stat(filepath.Join(share, vm, "intel-rapl:0", "energy_uj")); err != nil {
			t.Errorf("vm %s has no share: %v", vm, err)
		}
	}

	// The host agent stops: the guest must report its sensor down.
	host.stop()
	hostLog.stop()
	nUp := len(vmRecords(t, guestOut, true))
	vmWaitFor(t, 10*time.Second, func() bool {
		recs := vmRecords(t, guestOut, false)
		return len(recs) > 0 && !recs[len(recs)-1].SensorUp
	}, "the guest to report its sensor down", guest)
	last := vmRecords(t, guestOut, false)
	if down := last[len(last)-1]; !strings.Contains(down.SensorError, "stopped") {
		t.Errorf("guest sensor_error = %q, want it to say the host stopped", down.SensorError)
	}
	guest.stop()

	recs := vmRecords(t, guestOut, true)[:nUp]
	writes := hostLog.writes()
	vmCheckShare(t, recs, writes, maxRange)
}

// TestVMShareHostRestart restarts the host agent under a running guest
// agent, the way that once booked the guest a whole counter range of
// energy it never used: the share holds 150 000 020 000 µJ at the default
// range, and the host agent stops cleanly and comes back with
// --qemu.max-energy-range-uj 100000000000, so the counter restarts from 0.
// The host writes a new counter_epoch, the guest's zone ID changes with
// it, and the guest takes a new baseline: no line may show more than the
// host's 40 W. A first restart with the same range carries the counter
// on, in the same epoch and zone.
func TestVMShareHostRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test: builds and runs wattlens for about 20 s")
	}
	work := t.TempDir()
	bin := filepath.Join(work, "bin")
	vmMkdir(t, bin)
	qemuPath := filepath.Join(bin, "qemu-system-x86_64")
	vmCopy(t, burnerBin, qemuPath)
	vmStart(t, []string{qemuPath, "-duty", "0.5", "-for", "5m", "--", "-name", "guest=vm1", "-m", "512"}, "")
	sysfs := filepath.Join(work, "sys")
	vmStartRAPL(t, sysfs, 40)

	// What an earlier run of the host agent left in vm1's share.
	share := filepath.Join(work, "qemu")
	vm1 := filepath.Join(share, "vm1")
	vmMkdir(t, filepath.Join(vm1, "intel-rapl:0"))
	vmWriteFile(t, filepath.Join(vm1, "intel-rapl:0", "name"), "package-0\n")
	vmWriteFile(t, filepath.Join(vm1, "intel-rapl:0", "energy_uj"), "150000020000\n")
	vmWriteFile(t, filepath.Join(vm1, "intel-rapl:0", "max_energy_range_uj"), "262143328850\n")
	vmWriteFile(t, filepath.Join(vm1, "wattlens.json"), `{"version":2,"vm":"vm1","seq":7,"unix_nano":1,`+
		`"step_seconds":1,"energy_uj":150000020000,"max_energy_range_uj":262143328850,"counter_epoch":42,`+
		`"source":"measured","sensor":"powercap_rapl","stopped":true}`+"\n")

	hostArgs := []string{wattlensBin, "-s", "powercap_rapl", "--path.sysfs", sysfs, "--idle-power", "10",
		"qemu", "--qemu.dir", share, "--step", "1"}
	startHost := func(extra ...string) *vmProc {
		t.Helper()
		p := vmStart(t, append(slices.Clone(hostArgs), extra...), "")
		vmWaitFor(t, 10*time.Second, func() bool {
			b, err := os.ReadFile(filepath.Join(vm1, "wattlens.json"))
			return err == nil && !strings.Contains(string(b), `"stopped":true`)
		}, "the host agent to write vm1's share", p)
		return p
	}
	epoch := func() uint64 {
		t.Helper()
		var m struct {
			Epoch uint64 `json:"counter_epoch"`
		}
		b, err := os.ReadFile(filepath.Join(vm1, "wattlens.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return m.Epoch
	}

	host := startHost()
	if got := epoch(); got != 42 {
		t.Errorf("the host agent did not carry the share's counter on: counter_epoch %d, want 42", got)
	}
	guestOut := &vmLines{}
	guest := vmStartOut(t, []string{wattlensBin, "--vm", "--vm.path", vm1, "json", "--step", "1"}, guestOut)
	// upAfter waits for n lines with the sensor up after the last down one.
	upAfter := func(n int, what string) {
		t.Helper()
		vmWaitFor(t, 20*time.Second, func() bool {
			recs := vmRecords(t, guestOut, false)
			up := 0
			for i := len(recs) - 1; i >= 0 && recs[i].SensorUp; i-- {
				up++
			}
			return up >= n
		}, what, guest)
	}
	restart := func(extra ...string) {
		t.Helper()
		host.stop()
		vmWaitFor(t, 10*time.Second, func() bool {
			recs := vmRecords(t, guestOut, false)
			return len(recs) > 0 && !recs[len(recs)-1].SensorUp
		}, "the guest to report its sensor down", guest)
		host = startHost(extra...)
	}
	upAfter(3, "3 guest lines")

	restart() // the same range: carried on
	if got := epoch(); got != 42 {
		t.Errorf("a restart with the same range changed counter_epoch from 42 to %d", got)
	}
	upAfter(3, "3 guest lines after the first restart")

	restart("--qemu.max-energy-range-uj", "100000000000")
	if got := epoch(); got == 42 {
		t.Errorf("a restart with a lower range kept counter_epoch 42")
	}
	upAfter(4, "4 guest lines after the second restart")
	host.stop()
	guest.stop()

	type zoneRec struct {
		SensorUp bool `json:"sensor_up"`
		Host     struct {
			EnergyJoules float64 `json:"energy_joules"`
			PowerWatts   float64 `json:"power_watts"`
		} `json:"host"`
		Zones []struct {
			ID string `json:"id"`
		} `json:"zones"`
		Wraps int `json:"wraps"`
	}
	var ids []string
	var last float64
	for _, l := range guestOut.lines() {
		var r zoneRec
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("guest printed a line that is not JSON: %q: %v", l, err)
		}
		if !r.SensorUp {
			continue
		}
		if r.Host.PowerWatts > 40 || r.Host.EnergyJoules-last > 80 {
			t.Errorf("guest line books %.3f J at %.3f W (after %.3f J): more than the host's 40 W: %s",
				r.Host.EnergyJoules-last, r.Host.PowerWatts, last, l)
		}
		if r.Wraps != 0 {
			t.Errorf("the guest saw %d wraps; the counter never wrapped: %s", r.Wraps, l)
		}
		last = r.Host.EnergyJoules
		if len(r.Zones) != 1 {
			t.Fatalf("guest line with %d zones, want 1: %s", len(r.Zones), l)
		}
		if len(ids) == 0 || ids[len(ids)-1] != r.Zones[0].ID {
			ids = append(ids, r.Zones[0].ID)
		}
	}
	if len(ids) != 2 || ids[0] != "intel-rapl:0@42" {
		t.Errorf("guest zone IDs %v, want intel-rapl:0@42 across the first restart, then one for the new epoch", ids)
	}
	if last <= 0 {
		t.Errorf("the guest booked no energy")
	}
}

// vmCheckShare compares what the guest reported with what the host
// wrote.
func vmCheckShare(t *testing.T, recs []vmRecord, writes []vmWrite, maxRange uint64) {
	t.Helper()
	if len(recs) < 8 || len(writes) < 8 {
		t.Fatalf("too little data: %d guest lines, %d host writes", len(recs), len(writes))
	}
	// The host's counter, unwrapped.
	unwrapped := make([]uint64, len(writes))
	for i := 1; i < len(writes); i++ {
		d, _ := counter.Delta(writes[i-1].EnergyUJ, writes[i].EnergyUJ, maxRange)
		unwrapped[i] = unwrapped[i-1] + d
	}
	// Each guest line saw one host write: its total is the host's
	// counter since the write its first (baseline) read saw, to the
	// microjoule, across the wraps. Find that baseline write, and the
	// write each line saw (-1 for the rare line that saw a write the
	// recorder missed, when the test process was not scheduled for a
	// whole step: its value falls in a gap of the writes' seq).
	var seen []int
	for base := range writes {
		seen = seen[:0]
		for _, r := range recs {
			e := vmUJ(r.Host.EnergyJoules)
			j := base
			for j < len(writes) && unwrapped[j]-unwrapped[base] < e {
				j++
			}
			switch {
			case j < len(writes) && unwrapped[j]-unwrapped[base] == e:
				seen = append(seen, j)
				continue
			case j > base && j < len(writes) && writes[j].Seq-writes[j-1].Seq > 1:
				seen = append(seen, -1)
				continue
			}
			break
		}
		if len(seen) == len(recs) && seen[0] >= 0 && seen[len(seen)-1] >= 0 {
			break
		}
	}
	if len(seen) != len(recs) || seen[0] < 0 || seen[len(seen)-1] < 0 {
		t.Fatalf("the guest's energy does not follow the host's counter to the microjoule "+
			"(the guest lost or invented energy): guest totals %v µJ, host counter %v µJ", vmTotals(recs), unwrapped)
	}
	if skipped := slices.Index(seen, -1); skipped >= 0 {
		t.Logf("the recorder missed a host write seen by guest line %d", skipped)
	}
	first := recs[0]
	lastRec := recs[len(recs)-1]
	if lastRec.Wraps == 0 {
		t.Errorf("the guest saw no wrap of energy_uj (range %d µJ): the test did not exercise wrapping", maxRange)
	}

	// Rates over the same window: the guest's by its clock, the host's by
	// the times of the writes the guest saw.
	a, b := 0, len(recs)-1
	guestJ := lastRec.Host.EnergyJoules - first.Host.EnergyJoules
	guestS := lastRec.Time().Sub(first.Time()).Seconds()
	hostJ := float64(unwrapped[seen[b]]-unwrapped[seen[a]]) / 1e6
	hostS := float64(writes[seen[b]].UnixNano-writes[seen[a]].UnixNano) / 1e9
	guestW, hostW := guestJ/guestS, hostJ/hostS
	t.Logf("vm1: guest %.3f J over %.2f s = %.3f W; host wrote %.3f J over %.2f s = %.3f W; %d wraps",
		guestJ, guestS, guestW, hostJ, hostS, hostW, lastRec.Wraps)
	if hostW <= 0 || hostW >= 40 {
		t.Errorf("host wrote vm1 at %.3f W; want more than 0 and less than the host's 40 W", hostW)
	}
	if math.Abs(guestW-hostW) > 0.05*hostW {
		t.Errorf("guest rate %.3f W differs from the host's %.3f W by more than 5 %%", guestW, hostW)
	}
}

func vmUJ(j float64) uint64 { return uint64(math.Round(j * 1e6)) }

func vmTotals(recs []vmRecord) []uint64 {
	out := make([]uint64, len(recs))
	for i, r := range recs {
		out[i] = vmUJ(r.Host.EnergyJoules)
	}
	return out
}

// vmRecord is what the test reads of a json line (docs/json.md).
type vmRecord struct {
	Timestamp   string `json:"timestamp"`
	Seq         uint64 `json:"seq"`
	SensorUp    bool   `json:"sensor_up"`
	SensorError string `json:"sensor_error"`
	Host        struct {
		EnergyJoules float64 `json:"energy_joules"`
		PowerWatts   float64 `json:"power_watts"`
		Source       string  `json:"source"`
	} `json:"host"`
	Wraps int `json:"wraps"`
}

func (r vmRecord) Time() time.Time {
	t, _ := time.Parse(time.RFC3339Nano, r.Timestamp)
	return t
}

// vmRecords parses the json lines printed so far: only those with the
// sensor up when upOnly.
func vmRecords(t *testing.T, out *vmLines, upOnly bool) []vmRecord {
	t.Helper()
	var recs []vmRecord
	for _, l := range out.lines() {
		var r vmRecord
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("guest printed a line that is not JSON: %q: %v", l, err)
		}
		if upOnly && !r.SensorUp {
			continue
		}
		recs = append(recs, r)
	}
	return recs
}

// vmWrite is one write of a share, read back from wattlens.json.
type vmWrite struct {
	Seq      uint64 `json:"seq"`
	UnixNano int64  `json:"unix_nano"`
	EnergyUJ uint64 `json:"energy_uj"`
}

type vmShareLog struct {
	mu   sync.Mutex
	ws   []vmWrite
	done chan struct{}
	once sync.Once
	wg   sync.WaitGroup
}

// vmRecordShare polls the share's wattlens.json every 20 ms and keeps each
// write (the host writes once a second).
func vmRecordShare(t *testing.T, dir string) *vmShareLog {
	l := &vmShareLog{done: make(chan struct{})}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		tk := time.NewTicker(20 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-l.done:
				return
			case <-tk.C:
			}
			b, err := os.ReadFile(filepath.Join(dir, "wattlens.json"))
			if err != nil {
				continue
			}
			var w vmWrite
			if json.Unmarshal(b, &w) != nil {
				continue
			}
			l.mu.Lock()
			if n := len(l.ws); n == 0 || l.ws[n-1].Seq != w.Seq {
				l.ws = append(l.ws, w)
			}
			l.mu.Unlock()
		}
	}()
	return l
}

func (l *vmShareLog) stop() {
	l.once.Do(func() { close(l.done) })
	l.wg.Wait()
}

func (l *vmShareLog) writes() []vmWrite {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]vmWrite(nil), l.ws...)
}

// vmStartRAPL builds a powercap tree at <sysfs>/class/powercap with one
// package zone and advances it at watts until the test ends.
func vmStartRAPL(t *testing.T, sysfs string, watts float64) {
	t.Helper()
	layout := powercaptest.Layout{Zones: []powercaptest.ZoneSpec{
		{ID: "intel-rapl:0", Name: "package-0", Energy: 123_456_789_012, MaxRange: 262_143_328_850},
	}}
	powercaptest.Start(t, sysfs, layout, map[string]float64{"intel-rapl:0": watts}, 0)
}

// vmLines collects a process's output lines.
type vmLines struct {
	mu      sync.Mutex
	partial []byte
	all     []string
}

func (l *vmLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		if line := strings.TrimSpace(string(l.partial[:i])); line != "" {
			l.all = append(l.all, line)
		}
		l.partial = l.partial[i+1:]
	}
	return len(p), nil
}

func (l *vmLines) lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.all...)
}

// vmProc is a process the test started.
type vmProc struct {
	cmd    *exec.Cmd
	name   string
	stderr *vmLines
	done   chan struct{} // closed when it has exited
	err    error         // its exit status, once done
}

// vmStart starts args[0] with args (argv[0] as given) and an extra
// environment variable (none when empty), collects its standard error
// (logged if the test fails), and kills it at the end of the test.
func vmStart(t *testing.T, args []string, env string) *vmProc {
	t.Helper()
	return vmStartEnv(t, args, env, nil)
}

func vmStartOut(t *testing.T, args []string, stdout *vmLines) *vmProc {
	t.Helper()
	return vmStartEnv(t, args, "", stdout)
}

func vmStartEnv(t *testing.T, args []string, env string, stdout *vmLines) *vmProc {
	t.Helper()
	p := &vmProc{
		cmd:    &exec.Cmd{Path: args[0], Args: args, Env: os.Environ()},
		name:   filepath.Base(args[0]),
		stderr: &vmLines{},
		done:   make(chan struct{}),
	}
	if env != "" {
		p.cmd.Env = append(p.cmd.Env, env)
	}
	if stdout != nil {
		p.cmd.Stdout = stdout
	}
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", args[0], err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			for _, l := range p.stderr.lines() {
				t.Logf("%s: %s", p.name, l)
			}
		}
	})
	return p
}

func (p *vmProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM and waits for the exit (SIGKILL after 10 s).
func (p *vmProc) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.kill()
	}
}

func (p *vmProc) kill() {
	if !p.exited() {
		_ = p.cmd.Process.Kill()
	}
	<-p.done
}

// vmWaitFor polls cond every 100 ms until it holds or timeout passes; it
// fails the test if watched exits first.
func vmWaitFor(t *testing.T, timeout time.Duration, cond func() bool, what string, watched *vmProc) {
	t.Helper()
	polltest.Within(t, timeout, 100*time.Millisecond, what, func() bool {
		if cond() {
			return true
		}
		if watched != nil && watched.exited() {
			t.Fatalf("waiting for %s: %s exited: %v", what, watched.name, watched.err)
		}
		return false
	})
}

func vmMkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

func vmWriteFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func vmCopy(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o755); err != nil {
		t.Fatal(err)
	}
}
