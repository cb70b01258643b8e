package perfrapl

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wattlens/wattlens/internal/sensor"
)

// The kernel path is tested with the software event cpu-clock
// (PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CPU_CLOCK) in place of the power
// PMU, which no machine here has: a CPU-wide software event goes through
// the same perf_event_open checks (perf_allow_cpu: perf_event_paranoid,
// CAP_PERFMON) as a RAPL event.

// helperEnv makes the test binary a helper that opens the sensor on the
// tree in $PERFRAPL_HELPER and prints "ok <µJ>" or the error.
const helperEnv = "PERFRAPL_HELPER"

func TestMain(m *testing.M) {
	if sysfs := os.Getenv(helperEnv); sysfs != "" {
		os.Exit(helper(sysfs))
	}
	os.Exit(m.Run())
}

func helper(sysfs string) int {
	s, err := New(sensor.Options{SysFS: sysfs})
	if err != nil {
		fmt.Println("error:", err)
		if errors.Is(err, sensor.ErrPermission) {
			return 3
		}
		return 2
	}
	defer s.(*Sensor).Close()
	time.Sleep(20 * time.Millisecond)
	r, err := s.Read()
	if err != nil {
		fmt.Println("error:", err)
		return 2
	}
	fmt.Println("ok", r.Zones[0].Energy.Microjoules())
	return 0
}

// softwareTree writes a power PMU tree whose "energy-pkg" is cpu-clock
// (type 1, config 0) on CPU 0, readable by every user. cpu-clock counts
// nanoseconds; with a scale of 2^-22 a second of it reads as ~238 J.
func softwareTree(t *testing.T) string {
	t.Helper()
	root, err := os.MkdirTemp("", "perfrapl-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	for path, content := range map[string]string{
		"type":                    strconv.Itoa(unix.PERF_TYPE_SOFTWARE) + "\n",
		"cpumask":                 "0\n",
		"format/event":            "config:0-7\n",
		"events/energy-pkg":       fmt.Sprintf("event=0x%02x\n", unix.PERF_COUNT_SW_CPU_CLOCK),
		"events/energy-pkg.scale": "2.384185791015625e-07\n", // 2^-22
		"events/energy-pkg.unit":  "Joules\n",
		"/devices/system/cpu/cpu0/topology/physical_package_id": "0\n",
	} {
		p := filepath.Join(root, pmuDir, path)
		if strings.HasPrefix(path, "/") {
			p = filepath.Join(root, path)
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// TestKernelCounter opens cpu-clock CPU-wide on CPU 0 as this user.
func TestKernelCounter(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (or CAP_PERFMON): run as root to test the kernel path")
	}
	c, err := Kernel{}.Open(unix.PERF_TYPE_SOFTWARE, unix.PERF_COUNT_SW_CPU_CLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	a, err := c.Read()
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond)
	b, err := c.Read()
	if err != nil {
		t.Fatal(err)
	}
	// CPU 0's clock runs whether it is busy or idle: 10 ms is 10^7 ns.
	if b-a < 5_000_000 {
		t.Errorf("cpu-clock advanced %d ns over 10 ms", b-a)
	}
	if _, err := (Kernel{}).Open(unix.PERF_TYPE_SOFTWARE, unix.PERF_COUNT_SW_CPU_CLOCK, 1<<20); !errors.Is(err, sensor.ErrUnavailable) {
		t.Errorf("open on CPU 2^20: %v, want ErrUnavailable", err)
	}
}

// TestPrivileges runs the sensor on the cpu-clock tree as root, and as
// uid 65534 with and without CAP_PERFMON (setpriv), and checks what each
// sees. With perf_event_paranoid above 0 (2 on the machines here, the
// kernel's default), uid 65534 without CAP_PERFMON is refused with the
// message users see; at 0 or below it is not.
func TestPrivileges(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to drop to uid 65534 with setpriv")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("no setpriv (util-linux)")
	}
	paranoid, err := os.ReadFile("/proc/sys/kernel/perf_event_paranoid")
	if err != nil {
		t.Fatal(err)
	}
	level, err := strconv.Atoi(strings.TrimSpace(string(paranoid)))
	if err != nil {
		t.Fatal(err)
	}
	sysfs := softwareTree(t)
	bin := copyExecutable(t)
	drop := []string{"--reuid", "65534", "--regid", "65534", "--clear-groups"}
	for _, tt := range []struct {
		name string
		pre  []string // setpriv's arguments; none: as root
		ok   bool
	}{
		{"root", nil, true},
		{"uid 65534 with CAP_PERFMON", append(drop, "--inh-caps=-all,+perfmon", "--ambient-caps=-all,+perfmon", "--bounding-set=-all,+perfmon"), true},
		{"uid 65534 without capabilities", append(drop, "--inh-caps=-all", "--bounding-set=-all"), level <= 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := []string{bin}
			if tt.pre != nil {
				args = append(append([]string{setpriv}, tt.pre...), bin)
			}
			cmd := exec.Command(args[0], args[1:]...)
			cmd.Env = append(os.Environ(), helperEnv+"="+sysfs)
			out, err := cmd.CombinedOutput()
			got := strings.TrimSpace(string(out))
			if tt.ok {
				if err != nil || !strings.HasPrefix(got, "ok ") {
					t.Fatalf("%v: %s", err, got)
				}
				uj, _ := strconv.ParseUint(strings.TrimPrefix(got, "ok "), 10, 64)
				if uj == 0 { // 20 ms of cpu-clock is ~4.8 J at 2^-22 J/ns
					t.Errorf("counter read 0: %s", got)
				}
				return
			}
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 3 {
				t.Fatalf("want exit 3 (permission), got %v: %s", err, got)
			}
			want := fmt.Sprintf("permission denied: perf_event_open(type 1, config 0x0, cpu 0): permission denied: perf_event_paranoid is %d; grant CAP_PERFMON, or run as root", level)
			if !strings.Contains(got, want) {
				t.Errorf("error\n%s\nwant it to contain\n%s", got, want)
			}
		})
	}
}

// copyExecutable copies the test binary where uid 65534 can run it.
func copyExecutable(t *testing.T) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "perfrapl-bin-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	src, err := os.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	bin := filepath.Join(dir, "perfrapl.test")
	dst, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	return bin
}
