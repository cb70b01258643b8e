package e2e

// wattlens itself in a container, the way deploy/compose/compose.yaml and
// the Helm chart (deploy/helm/wattlens, rendered by deploy/render.sh) run
// it: the host's /proc and /sys mounted read-only, the user, capabilities,
// read-only root and privilege settings those files give (read from them,
// not copied here, so the test follows them), the chart's eBPF option off
// and on. The image cannot be pulled here: it is built offline FROM
// scratch with a static (CGO_ENABLED=0) binary, the Dockerfile's "static"
// target's binary. Beside it the agent runs on the host; both on the
// estimate sensor, they must report the same host power (within 10 %) and
// name a process of the host the same way.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"go.yaml.in/yaml/v2"
)

// icSettings is how a deployment file runs the wattlens container, in
// docker run's terms.
type icSettings struct {
	user        string   // "uid:gid"
	capDrop     []string // without the CAP_ prefix, as both files write them
	capAdd      []string
	readOnly    bool
	noNewPrivs  bool
	securityOpt []string // others, as the file writes them (seccomp=unconfined for the chart's Unconfined profile)
	mounts      []string // "host:container:ro"
	args        []string // the container's arguments
}

// dockerArgs returns the docker run flags of s.
func (s icSettings) dockerArgs() []string {
	var a []string
	if s.user != "" {
		a = append(a, "--user", s.user)
	}
	for _, c := range s.capDrop {
		a = append(a, "--cap-drop", c)
	}
	for _, c := range s.capAdd {
		a = append(a, "--cap-add", c)
	}
	if s.readOnly {
		a = append(a, "--read-only")
	}
	if s.noNewPrivs {
		a = append(a, "--security-opt", "no-new-privileges:true")
	}
	for _, o := range s.securityOpt {
		a = append(a, "--security-opt", o)
	}
	for _, m := range s.mounts {
		a = append(a, "-v", m)
	}
	return a
}

// composeSettings reads the wattlens service of the compose file.
func composeSettings(t *testing.T) icSettings {
	t.Helper()
	var cf struct {
		Services map[string]struct {
			User        string   `yaml:"user"`
			CapDrop     []string `yaml:"cap_drop"`
			CapAdd      []string `yaml:"cap_add"`
			ReadOnly    bool     `yaml:"read_only"`
			SecurityOpt []string `yaml:"security_opt"`
			Command     []string `yaml:"command"`
			Volumes     []string `yaml:"volumes"`
			Privileged  bool     `yaml:"privileged"`
		} `yaml:"services"`
	}
	b, err := os.ReadFile("../../deploy/compose/compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &cf); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	w, ok := cf.Services["wattlens"]
	if !ok {
		t.Fatal("compose.yaml has no wattlens service")
	}
	if w.Privileged {
		t.Fatal("compose.yaml runs wattlens privileged; this test runs the unprivileged settings only")
	}
	s := icSettings{user: w.User, capDrop: w.CapDrop, capAdd: w.CapAdd, readOnly: w.ReadOnly, args: w.Command}
	for _, o := range w.SecurityOpt {
		if o == "no-new-privileges:true" || o == "no-new-privileges" {
			s.noNewPrivs = true
		} else {
			s.securityOpt = append(s.securityOpt, o)
		}
	}
	for _, v := range w.Volumes {
		if strings.HasPrefix(v, "/var/run/docker.sock") {
			continue
		}
		s.mounts = append(s.mounts, v)
	}
	return s
}

// chartSettings renders the chart with set (helm --set values) and reads
// its DaemonSet's container.
func chartSettings(t *testing.T, set ...string) icSettings {
	t.Helper()
	args := []string{"../../deploy/render.sh"}
	for _, s := range set {
		args = append(args, "--set", s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", args...)
	cmd.Env = append(os.Environ(), "HELM=") // the pinned helm, as deploy's tests
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("deploy/render.sh %s: %v\n%s", strings.Join(set, " "), err, stderr.String())
	}
	type secCtx struct {
		SeccompProfile *struct {
			Type string `yaml:"type"`
		} `yaml:"seccompProfile"`
		RunAsUser                *int  `yaml:"runAsUser"`
		RunAsGroup               *int  `yaml:"runAsGroup"`
		Privileged               bool  `yaml:"privileged"`
		AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
		ReadOnlyRootFilesystem   bool  `yaml:"readOnlyRootFilesystem"`
		Capabilities             struct {
			Add  []string `yaml:"add"`
			Drop []string `yaml:"drop"`
		} `yaml:"capabilities"`
	}
	var ds struct {
		Kind string `yaml:"kind"`
		Spec struct {
			Template struct {
				Spec struct {
					HostPID         bool   `yaml:"hostPID"`
					SecurityContext secCtx `yaml:"securityContext"`
					Containers      []struct {
						Name            string   `yaml:"name"`
						Args            []string `yaml:"args"`
						SecurityContext secCtx   `yaml:"securityContext"`
						VolumeMounts    []struct {
							Name      string `yaml:"name"`
							MountPath string `yaml:"mountPath"`
							ReadOnly  bool   `yaml:"readOnly"`
						} `yaml:"volumeMounts"`
					} `yaml:"containers"`
					Volumes []struct {
						Name     string `yaml:"name"`
						HostPath *struct {
							Path string `yaml:"path"`
						} `yaml:"hostPath"`
					} `yaml:"volumes"`
				} `yaml:"spec"`
			} `yaml:"template"`
		} `yaml:"spec"`
	}
	found := false
	for _, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(out), -1) {
		if err := yaml.Unmarshal([]byte(doc), &ds); err == nil && ds.Kind == "DaemonSet" {
			found = true
			break
		}
	}
	if !found || len(ds.Spec.Template.Spec.Containers) == 0 {
		t.Fatalf("deploy/render.sh %s: no DaemonSet with a container", strings.Join(set, " "))
	}
	pod := ds.Spec.Template.Spec
	c := pod.Containers[0]
	sc := c.SecurityContext
	if sc.Privileged || pod.HostPID {
		t.Fatalf("the chart (%s) runs wattlens privileged or in the host's PID namespace; this test runs the unprivileged settings only", strings.Join(set, " "))
	}
	s := icSettings{capDrop: sc.Capabilities.Drop, capAdd: sc.Capabilities.Add, readOnly: sc.ReadOnlyRootFilesystem}
	uid, gid := sc.RunAsUser, sc.RunAsGroup
	if uid == nil {
		uid = pod.SecurityContext.RunAsUser
	}
	if gid == nil {
		gid = pod.SecurityContext.RunAsGroup
	}
	if uid != nil {
		s.user = fmt.Sprint(*uid)
		if gid != nil {
			s.user += fmt.Sprintf(":%d", *gid)
		}
	}
	s.noNewPrivs = sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation
	seccomp := pod.SecurityContext.SeccompProfile
	if sc.SeccompProfile != nil {
		seccomp = sc.SeccompProfile
	}
	if seccomp != nil {
		switch seccomp.Type {
		case "RuntimeDefault":
			// The runtime's own default profile: what docker and podman
			// run with unless told otherwise.
		case "Unconfined":
			s.securityOpt = append(s.securityOpt, "seccomp=unconfined")
		default:
			t.Fatalf("the chart's seccomp profile %q: this test knows RuntimeDefault and Unconfined only", seccomp.Type)
		}
	}
	hostPaths := map[string]string{}
	for _, v := range pod.Volumes {
		if v.HostPath != nil {
			hostPaths[v.Name] = v.HostPath.Path
		}
	}
	for _, m := range c.VolumeMounts {
		hp, ok := hostPaths[m.Name]
		if !ok {
			t.Fatalf("the chart mounts volume %q, not a hostPath: this test cannot give it", m.Name)
		}
		mount := hp + ":" + m.MountPath
		if m.ReadOnly {
			mount += ":ro"
		}
		s.mounts = append(s.mounts, mount)
	}
	s.args = c.Args
	return s
}

// icBinary builds the static binary (the Dockerfile's "static" target's
// build) once per test run.
func icBinary(t *testing.T) string {
	t.Helper()
	icBinaryOnce.Do(func() {
		dir, err := os.MkdirTemp("", "wattlens-e2e-static-")
		if err != nil {
			icBinaryErr = err
			return
		}
		start := time.Now()
		build := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(dir, "wattlens"), "../../cmd/wattlens")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			icBinaryErr = fmt.Errorf("CGO_ENABLED=0 go build: %v\n%s", err, out)
			return
		}
		dockerfile := "FROM scratch\nCOPY wattlens /usr/bin/wattlens\nENTRYPOINT [\"/usr/bin/wattlens\"]\n"
		if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
			icBinaryErr = err
			return
		}
		icBinaryDir = dir
		fmt.Fprintf(os.Stderr, "static binary built in %v\n", time.Since(start).Round(time.Millisecond))
	})
	if icBinaryErr != nil {
		t.Fatal(icBinaryErr)
	}
	return icBinaryDir
}

var (
	icBinaryOnce sync.Once
	icBinaryDir  string
	icBinaryErr  error
)

// icImage builds an image FROM scratch holding the static binary, in the
// runtime, offline; it is removed when owner (the whole test) ends.
func icImage(t, owner *testing.T, rt *rcRuntime) string {
	t.Helper()
	dir := icBinary(t)
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	image := "localhost/wattlens-e2e-static:" + hex.EncodeToString(suffix)
	if rt.name == "docker" {
		image = strings.TrimPrefix(image, "localhost/")
	}
	start := time.Now()
	cmd := exec.Command(rt.bin, "build", "-q", "-t", image, dir)
	cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=0") // the classic builder: no BuildKit image to pull
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s build: %v\n%s", rt.name, err, out)
	}
	owner.Cleanup(func() { _ = exec.Command(rt.bin, "rmi", "-f", image).Run() })
	t.Logf("image %s built by %s in %v", image, rt.name, time.Since(start).Round(time.Millisecond))
	return image
}

// freePort returns a TCP port free on 127.0.0.1 now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().(*net.TCPAddr).Port
}

// icArgs adapts a deployment's arguments to the test: the estimate
// sensor (the same on both sides, whatever the host has), a listen
// address on 127.0.0.1 (the container shares the host's network: no
// bridge exists here), and no Kubernetes name source (no kubelet here).
func icArgs(t *testing.T, args []string, port int) []string {
	t.Helper()
	var out []string
	exporter := -1
	for _, a := range args {
		switch {
		case strings.HasPrefix(a, "--sensor="), strings.HasPrefix(a, "--web.listen-address="),
			strings.HasPrefix(a, "--containers"):
			continue
		}
		if a == "prometheus" {
			exporter = len(out)
		}
		out = append(out, a)
	}
	if exporter < 0 {
		t.Fatalf("the deployment's arguments %q run no prometheus exporter", args)
	}
	out = append(out[:exporter:exporter], append([]string{"--sensor=estimate"}, out[exporter:]...)...)
	return append(out, fmt.Sprintf("--web.listen-address=127.0.0.1:%d", port), "--step=1")
}

// icScrape reads one exposition.
func icScrape(t *testing.T, port int) map[string]*dto.MetricFamily {
	t.Helper()
	status, _, body := promGet(fmt.Sprintf("http://127.0.0.1:%d/metrics", port), "")
	if status != 200 {
		t.Fatalf("scrape of 127.0.0.1:%d: status %d", port, status)
	}
	return promParse(t, body)
}

// TestInContainer runs the compose file's settings and the chart's under
// Docker, and the chart's eBPF option under podman: Debian 12's Docker
// (20.10) does not know CAP_BPF and CAP_PERFMON, podman does. Under the
// runtime's default seccomp profile (the chart's RuntimeDefault) bpf() and
// perf_event_open are allowed with CAP_SYS_ADMIN only on some runtimes
// (Debian 12's podman 4.3 among them): there the agent must refuse at
// once with a message that says what it needs; with the chart's seccomp
// profile set to Unconfined it must run on eBPF.
func TestInContainer(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	burner := startBurner(t, 0.5, 10*time.Minute)
	burnerPID := fmt.Sprint(burner.Process.Pid)

	variants := []struct {
		name, runtime string
		ebpf          bool
		setup         func(t *testing.T) icSettings
	}{
		{"compose", "docker", false, composeSettings},
		{"chart", "docker", false, func(t *testing.T) icSettings { return chartSettings(t, "containers.source=none") }},
		{"chart-ebpf", "podman", true, func(t *testing.T) icSettings {
			return chartSettings(t, "containers.source=none", "ebpf.enabled=true")
		}},
		{"chart-ebpf-unconfined", "podman", true, func(t *testing.T) icSettings {
			return chartSettings(t, "containers.source=none", "ebpf.enabled=true", "podSecurityContext.seccompProfile.type=Unconfined")
		}},
	}
	images := map[string]string{}
	owner := t
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			if v.ebpf {
				needEBPF(t)
			}
			s := v.setup(t)
			rt := needRuntime(t, v.runtime)
			if rt.name == "docker" && !grants(t, rt, s.capAdd) {
				// Docker before 23 does not know CAP_BPF and CAP_PERFMON.
				t.Logf("docker cannot grant %v: running under podman", s.capAdd)
				rt = needRuntime(t, "podman")
			}
			if images[rt.name] == "" {
				images[rt.name] = icImage(t, owner, rt)
			}
			image := images[rt.name]
			cport, hport := freePort(t), freePort(t)
			cargs := icArgs(t, s.args, cport)
			run := []string{"run", "-d", "--network", "host"}
			for i := 0; i < len(rt.run); i++ { // the runtime's own flags, but the host's network
				if rt.run[i] == "--network" {
					i++
					continue
				}
				run = append(run, rt.run[i])
			}
			run = append(run, s.dockerArgs()...)
			run = append(run, image)
			run = append(run, cargs...)
			t.Logf("%s %s", rt.name, strings.Join(run, " "))
			id := rt.cli(t, run...)
			logs := func() string {
				out, _ := exec.Command(rt.bin, "logs", id).CombinedOutput()
				return string(out)
			}
			t.Cleanup(func() {
				t.Logf("the container's log:\n%s", logs())
				_ = exec.Command(rt.bin, "rm", "-f", id).Run()
			})

			// The same agent on the host, with the same global flags but
			// the host's own /proc and /sys.
			var hargs []string
			for _, a := range cargs {
				if strings.HasPrefix(a, "--path.") || strings.HasPrefix(a, "--web.listen-address=") {
					continue
				}
				hargs = append(hargs, a)
			}
			hargs = append(hargs, fmt.Sprintf("--web.listen-address=127.0.0.1:%d", hport))
			host := promStart(t, "wattlens (host)", wattlensBin, hargs...)

			ready := func(port int) func() bool {
				return func() bool {
					status, _, body := promGet(fmt.Sprintf("http://127.0.0.1:%d/metrics", port), "")
					return status == 200 && bytes.Contains(body, []byte("wattlens_host_energy_joules_total")) &&
						bytes.Contains(body, []byte(`pid="`+burnerPID+`"`))
				}
			}
			refused := false
			promWaitFor(t, 60*time.Second, "the containerised agent's first figures", func() bool {
				state, _ := exec.Command(rt.bin, "inspect", "-f", "{{.State.Running}} {{.State.ExitCode}}", id).Output()
				if running, code, _ := strings.Cut(strings.TrimSpace(string(state)), " "); running == "false" {
					l := logs()
					if v.ebpf && !slices.Contains(s.securityOpt, "seccomp=unconfined") && code != "0" &&
						strings.Contains(l, "not permitted to load BPF programs") && strings.Contains(l, "CAP_BPF") {
						refused = true
						return true
					}
					t.Fatalf("the container stopped (exit %s):\n%s", code, l)
				}
				return ready(cport)()
			})
			if refused {
				t.Logf("%s's default seccomp profile keeps bpf() from CAP_BPF alone: the agent refused at once, saying what it needs:\n%s", rt.name, logs())
				return
			}
			promWaitFor(t, 60*time.Second, "the host agent's first figures", ready(hport), host)

			// The host's power over the same few seconds, seen by both.
			c0, h0, t0 := icScrape(t, cport), icScrape(t, hport), time.Now()
			time.Sleep(6 * time.Second)
			c1, h1, t1 := icScrape(t, cport), icScrape(t, hport), time.Now()
			secs := t1.Sub(t0).Seconds()
			cw := (promSum(c1, "wattlens_host_energy_joules_total") - promSum(c0, "wattlens_host_energy_joules_total")) / secs
			hw := (promSum(h1, "wattlens_host_energy_joules_total") - promSum(h0, "wattlens_host_energy_joules_total")) / secs
			t.Logf("host power: %.2f W in the container, %.2f W on the host", cw, hw)
			if hw <= 0 || relErr(cw, hw) > 0.10 {
				t.Errorf("host power %.2f W in the container, %.2f W on the host: more than 10 %% apart", cw, hw)
			}
			if got := promSum(c1, "wattlens_sensor_up"); got != 1 {
				t.Errorf("the containerised agent's sensor is not up (%v)", got)
			}

			// The burner, a process of the host, named alike on both
			// sides: its pid, comm and command line; its exe too unless
			// the kernel's ptrace rule hides it (docs/deploy.md).
			want := map[string]string{"pid": burnerPID}
			cm, okC := ctPromSeries(c1, "wattlens_process_power_watts", want)
			hm, okH := ctPromSeries(h1, "wattlens_process_power_watts", want)
			if !okC || !okH {
				t.Fatalf("the burner (pid %s): in the container's exposition %v, in the host's %v", burnerPID, okC, okH)
			}
			for _, l := range []string{"comm", "cmdline"} {
				if c, h := promLabel(cm, l), promLabel(hm, l); c != h || c == "" {
					t.Errorf("burner's %s: %q in the container, %q on the host", l, c, h)
				}
			}
			c, h := promLabel(cm, "exe"), promLabel(hm, "exe")
			switch {
			case c == h && c != "":
			case c == "" && h != "" && hidesExe(t, burner.Process.Pid, s):
				t.Logf("burner's exe is empty in the container: the burner holds capabilities the container has not (the ptrace access rule)")
			default:
				t.Errorf("burner's exe: %q in the container, %q on the host", c, h)
			}
			if v.ebpf {
				if l := logs(); !strings.Contains(l, "from ebpf") {
					t.Errorf("the eBPF variant's log does not say it reads CPU time from eBPF:\n%s", l)
				}
			}
		})
	}
}

// grants reports whether the runtime can run a container with these
// capabilities added (a runtime older than a capability refuses it).
func grants(t *testing.T, rt *rcRuntime, caps []string) bool {
	t.Helper()
	if len(caps) == 0 {
		return true
	}
	args := append([]string{"run", "--rm"}, rt.run...)
	args = append(args, "--cap-drop", "ALL")
	for _, c := range caps {
		args = append(args, "--cap-add", c)
	}
	args = append(args, rt.image, "true")
	out, err := exec.Command(rt.bin, args...).CombinedOutput()
	if err != nil {
		t.Logf("%s %s: %v: %s", rt.name, strings.Join(args, " "), err, out)
	}
	return err == nil
}

// hidesExe reports whether the kernel refuses the container's agent
// /proc/<pid>/exe: a process's exe needs ptrace read access, which (for
// the same uid) also needs the target's permitted capabilities to be a
// subset of the reader's, unless the reader holds CAP_SYS_PTRACE.
func hidesExe(t *testing.T, pid int, s icSettings) bool {
	t.Helper()
	if slices.Contains(s.capAdd, "SYS_PTRACE") || slices.Contains(s.capAdd, "CAP_SYS_PTRACE") {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "CapPrm:"); ok {
			return strings.Trim(strings.TrimSpace(v), "0") != ""
		}
	}
	return false
}
