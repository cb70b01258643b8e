package main

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// closedAddr is a 127.0.0.1 address where nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

// TestTakenPort: a taken --web.listen-address is one line that names the
// command, the address and the flag that changes it, exit 2, before the
// sensor is opened (nothing logged before it).
func TestTakenPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	addr := l.Addr().String()
	sys := fakeRAPL(t)
	for _, command := range []string{"prometheus", "web"} {
		code, out, stderr := runWattlens(t, "--path.sysfs", sys, "-s", "powercap_rapl", command, "--web.listen-address", addr)
		want := "wattlens: error: " + command + ": cannot listen on " + addr + ": address already in use; give another address with --web.listen-address\n"
		if code != 2 || stderr != want || out != "" {
			t.Errorf("%s on a taken port: exit %d, stderr %q, stdout %q; want exit 2 and only %q", command, code, stderr, out, want)
		}
	}
}

// TestStdoutSensorFailsBeforeMeasuring: -s powercap_rapl where powercap
// cannot be read fails before "measuring every" is printed.
func TestStdoutSensorFailsBeforeMeasuring(t *testing.T) {
	empty := t.TempDir() // a sysfs without class/powercap
	code, out, stderr := runWattlens(t, "--path.sysfs", empty, "-s", "powercap_rapl", "stdout", "-t", "1")
	if code == 0 || strings.Contains(out, "measuring every") || !strings.Contains(stderr, "powercap") {
		t.Errorf("exit %d, stdout %q, stderr %q; want a failure naming powercap and no \"measuring every\"", code, out, stderr)
	}
}

// TestRunJSONToStandardOutput: run --json writes its summary to standard
// output (for | jq), and nothing of it to standard error.
func TestRunJSONToStandardOutput(t *testing.T) {
	code, out, stderr := runWattlens(t, "--path.sysfs", fakeRAPL(t), "-s", "powercap_rapl", "run", "--json", "--step", "0.2", "--", "sleep", "0.5")
	var s struct {
		Peak    *float64 `json:"peak_power_watts"`
		Average *float64 `json:"average_power_watts"`
	}
	if err := json.Unmarshal([]byte(out), &s); code != 0 || err != nil || s.Peak == nil || s.Average == nil {
		t.Fatalf("exit %d, stdout %q (%v); want the JSON summary; stderr %q", code, out, err, stderr)
	}
	if strings.Contains(stderr, "peak_power_watts") {
		t.Errorf("the summary went to standard error too: %q", stderr)
	}
	if *s.Peak < *s.Average {
		t.Errorf("peak %.4f W below the average %.4f W", *s.Peak, *s.Average)
	}
	// Without --json the text summary stays on standard error.
	code, out, stderr = runWattlens(t, "--path.sysfs", fakeRAPL(t), "-s", "powercap_rapl", "run", "--step", "0.2", "--", "true")
	if code != 0 || out != "" || !strings.Contains(stderr, "power") {
		t.Errorf("text summary: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
}

// TestPushSaysWhereAndFailsWhenNothingDelivered: prometheus-push logs its
// gateway at start; a run whose every push failed exits 1 and says so; one
// that delivered exits 0.
func TestPushSaysWhereAndFailsWhenNothingDelivered(t *testing.T) {
	sys := fakeRAPL(t)
	dead := "http://" + closedAddr(t)
	code, _, stderr := runWattlens(t, "--path.sysfs", sys, "-s", "powercap_rapl", "prometheus-push",
		"--url", dead, "--step", "0.2", "--timeout", "0.5", "--push.timeout", "100ms")
	if code != 1 || !strings.Contains(stderr, "nothing was delivered") || !strings.Contains(stderr, "url="+dead) {
		t.Errorf("dead gateway: exit %d, stderr:\n%s\nwant exit 1, the url at start, and \"nothing was delivered\"", code, stderr)
	}
	gw := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer gw.Close()
	code, _, stderr = runWattlens(t, "--path.sysfs", sys, "-s", "powercap_rapl", "prometheus-push",
		"--url", gw.URL, "--step", "0.2", "--timeout", "0.5")
	if code != 0 || strings.Contains(stderr, "nothing was delivered") || !strings.Contains(stderr, "url="+gw.URL) {
		t.Errorf("working gateway: exit %d, stderr:\n%s", code, stderr)
	}
	// A password in the URL is not logged.
	_, _, stderr = runWattlens(t, "--path.sysfs", sys, "-s", "powercap_rapl", "prometheus-push",
		"--url", "http://u:secret@"+closedAddr(t), "--step", "0.2", "--timeout", "0.3", "--push.timeout", "100ms")
	if strings.Contains(stderr, "secret") || !strings.Contains(stderr, "pushing Prometheus metrics") {
		t.Errorf("the URL's password is logged:\n%s", stderr)
	}
}

// TestOTLPFailsWhenNothingDelivered: an otlp run whose collector never
// accepted an export exits 1 and says so, naming the endpoint.
func TestOTLPFailsWhenNothingDelivered(t *testing.T) {
	dead := "http://" + closedAddr(t)
	code, _, stderr := runWattlens(t, "--path.sysfs", fakeRAPL(t), "-s", "powercap_rapl", "otlp",
		"--otlp.protocol", "http", "--otlp.endpoint", dead, "--otlp.timeout", "300ms", "--step", "0.2", "--timeout", "0.5")
	if code != 1 || !strings.Contains(stderr, "otlp: nothing was delivered") || !strings.Contains(stderr, "127.0.0.1") {
		t.Errorf("dead collector: exit %d, stderr:\n%s\nwant exit 1 and \"nothing was delivered\" with the endpoint", code, stderr)
	}
}

// TestHelpCommandFlagsFirst: a command's help lists its own flags first,
// then the global ones grouped, each global flag on one line (the seven
// --redfish.* flags took 17 lines).
func TestHelpCommandFlagsFirst(t *testing.T) {
	code, out := helpOf(t, "stdout", "--help")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	own, global := strings.Index(out, "Flags of stdout:"), strings.Index(out, "Global flags")
	if own < 0 || global < own || strings.Index(out, "--timeout") > global || strings.Index(out, "--sensor") < global {
		t.Fatalf("want the command's flags (--timeout) before the global ones (--sensor):\n%s", out)
	}
	lines := strings.Split(strings.TrimRight(out[global:], "\n"), "\n")[1:]
	var redfish int
	for _, l := range lines {
		if len([]rune(l)) > 80 {
			t.Errorf("global flag line wider than 80 columns: %q", l)
		}
		if strings.HasPrefix(l, "    ") && !strings.HasPrefix(strings.TrimSpace(l), "-") {
			t.Errorf("a global flag's help goes on past its line: %q", l)
		}
		if strings.Contains(l, "--redfish.") || strings.Contains(l, "--[no-]redfish.") {
			redfish++
		}
	}
	if redfish != 7 {
		t.Errorf("%d lines of --redfish.* flags, want one each (7):\n%s", redfish, out[global:])
	}
	for _, group := range []string{"Measuring:", "Logging:", "Redfish sensor"} {
		if !strings.Contains(out[global:], group) {
			t.Errorf("global flags lack the group %q", group)
		}
	}
	// wattlens --help still explains each global flag in full.
	_, out = helpOf(t, "--help")
	if !strings.Contains(out, "(keep it mode 0600)") || !strings.Contains(out, "Commands:") {
		t.Errorf("wattlens --help lacks the full global flags or the commands:\n%s", out)
	}
}

// helpOf runs wattlens with args in a child process (this test binary):
// kingpin ends the process after help.
func helpOf(t *testing.T, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelpChild$")
	cmd.Env = append(os.Environ(), "COLUMNS=80", "WATTLENS_HELP_CHILD="+strings.Join(args, "\x1f"))
	out, err := cmd.Output()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), string(out)
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, string(out)
}

// TestHelpChild is helpOf's child: it runs wattlens with the arguments
// in WATTLENS_HELP_CHILD, and is skipped otherwise.
func TestHelpChild(t *testing.T) {
	args := os.Getenv("WATTLENS_HELP_CHILD")
	if args == "" {
		t.Skip("runs only as helpOf's child")
	}
	os.Exit(run(strings.Split(args, "\x1f"), os.Stdout, os.Stderr))
}

func TestFirstSentence(t *testing.T) {
	for in, want := range map[string]string{
		"Base URL of the BMC, e.g. https://bmc.example. More here.": "Base URL of the BMC, e.g. https://bmc.example.",
		"One sentence.": "One sentence.",
		"Where it is mounted. ($WATTLENS_VM_PATH)": "Where it is mounted. ($WATTLENS_VM_PATH)",
		"Two\n  lines. Then more.":                 "Two lines.",
	} {
		if got := firstSentence(in); got != want {
			t.Errorf("firstSentence(%q) = %q, want %q", in, got, want)
		}
	}
	if got := cut("abcdefgh", 5); got != "abcd…" {
		t.Errorf("cut: %q", got)
	}
}
