package e2e

// End-to-end tests of --containers: the real binary on a generated procfs
// whose processes' cgroup files point into Docker containers and
// Kubernetes pods, names from a fake Docker Engine API on a unix socket
// and a fake kubelet over HTTPS.

import (
	"encoding/json"
	"math"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wattlens/wattlens/internal/container/dockertest"
	"github.com/wattlens/wattlens/internal/procstat/procfstest"
)

const (
	ctWebID     = "3f1c2b6a9d8e7f60112233445566778899aabbccddeeff00112233445566778a"
	ctAPIID     = "9a8b7c6d5e4f30211223344556677889900aabbccddeeff0011223344556677b"
	ctSidecarID = "5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f"
	ctBatchID   = "b47c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4"
	ctPodUID    = "7d4f3c2a-1b2c-4d5e-8f90-a1b2c3d4e5f6"
	ctPod       = "api-7f9c4-x2x9k"
	ctNamespace = "shop"
	ctToken     = "e2e-token"
)

// ctRecord is the part of a json line these tests read.
type ctRecord struct {
	Seq  int `json:"seq"`
	Host struct {
		EnergyJoules         float64 `json:"energy_joules"`
		IntervalEnergyJoules float64 `json:"interval_energy_joules"`
	} `json:"host"`
	Idle struct {
		EnergyJoules         float64 `json:"energy_joules"`
		IntervalEnergyJoules float64 `json:"interval_energy_joules"`
	} `json:"idle"`
	Consumers []ctConsumer `json:"consumers"`
	Workloads []ctWorkload `json:"workloads"`
}

type ctConsumer struct {
	Kind                 string  `json:"kind"`
	PID                  int     `json:"pid"`
	ContainerID          string  `json:"container_id"`
	ContainerName        string  `json:"container_name"`
	Runtime              string  `json:"runtime"`
	Pod                  string  `json:"pod"`
	Namespace            string  `json:"namespace"`
	EnergyJoules         float64 `json:"energy_joules"`
	IntervalEnergyJoules float64 `json:"interval_energy_joules"`
}

type ctWorkload struct {
	Kind                 string  `json:"kind"`
	ID                   string  `json:"id"`
	ContainerID          string  `json:"container_id"`
	ContainerName        string  `json:"container_name"`
	Runtime              string  `json:"runtime"`
	Pod                  string  `json:"pod"`
	PodUID               string  `json:"pod_uid"`
	Namespace            string  `json:"namespace"`
	Processes            int     `json:"processes"`
	EnergyJoules         float64 `json:"energy_joules"`
	IntervalEnergyJoules float64 `json:"interval_energy_joules"`
}

func (r ctRecord) proc(pid int) (ctConsumer, bool) {
	for _, c := range r.Consumers {
		if c.PID == pid && c.Kind == "process" {
			return c, true
		}
	}
	return ctConsumer{}, false
}

func (r ctRecord) workload(kind, id string) (ctWorkload, bool) {
	for _, w := range r.Workloads {
		if w.Kind == kind && w.ID == id {
			return w, true
		}
	}
	return ctWorkload{}, false
}

func ctDecode(t *testing.T, out []byte) []ctRecord {
	t.Helper()
	var recs []ctRecord
	for _, l := range lines(strings.NewReader(string(out))) {
		var r ctRecord
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("bad json line %q: %v", l, err)
		}
		recs = append(recs, r)
	}
	return recs
}

// µJ turns a joule figure of a line back into whole microjoules.
func µJ(j float64) int64 { return int64(math.Round(j * 1e6)) }

// ctArgs are the arguments of a json run on the fixture.
func ctArgs(sysfs, procfs string, extra ...string) []string {
	args := []string{"-s", "powercap_rapl", "--path.sysfs", sysfs, "--path.procfs", procfs, "--idle-power", "5",
		"json", "--step", "1", "--timeout", "6", "--max-top-consumers", "0", "--containers", "--containers.podman-socket", "none"}
	return append(args, extra...)
}

// ctCheckBooks checks that consumers and idle add up to the host in every
// line, to the microjoule: workloads are another cut, not more energy.
func ctCheckBooks(t *testing.T, recs []ctRecord) {
	t.Helper()
	for _, r := range recs {
		var total, interval int64
		for _, c := range r.Consumers {
			total += µJ(c.EnergyJoules)
			interval += µJ(c.IntervalEnergyJoules)
		}
		if got, want := total+µJ(r.Idle.EnergyJoules), µJ(r.Host.EnergyJoules); got != want {
			t.Errorf("seq %d: consumers + idle = %d µJ, host %d µJ", r.Seq, got, want)
		}
		if got, want := interval+µJ(r.Idle.IntervalEnergyJoules), µJ(r.Host.IntervalEnergyJoules); got != want {
			t.Errorf("seq %d: interval consumers + idle = %d µJ, host %d µJ", r.Seq, got, want)
		}
		var containers int64
		for _, w := range r.Workloads {
			if w.Kind == "container" {
				containers += µJ(w.EnergyJoules)
			}
		}
		if containers > µJ(r.Host.EnergyJoules)-µJ(r.Idle.EnergyJoules) {
			t.Errorf("seq %d: containers hold %d µJ, more than host − idle", r.Seq, containers)
		}
	}
}

// TestContainersNamesAndPods: processes in Docker containers and in a
// pod get their names and pod from the fake Docker API and kubelet; a
// container's energy keeps that of its exited processes; a pod's is its
// containers'; a container started after the agent is named within one
// step.
func TestContainersNamesAndPods(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	sysfs, _ := fakeRAPL(t, map[string]float64{"intel-rapl:0": 30, "intel-rapl:1": 20}, 0)
	docker := dockertest.New(t, "1.47")
	docker.Add(dockertest.Container{ID: ctWebID, Name: "web", Image: "nginx:1.27"})
	kube := ctNewKubelet(t)
	token := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(token, []byte(ctToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	tl := ctFixture(t)
	batch := ctProc{Proc: procfstest.Proc{PID: 400, PPID: 1, Comm: "batch", UTime: 0, StartTime: 900,
		Cmdline: []string{"/bin/batch", "--once"}, Exe: "/bin/batch", Cgroup: ctDockerCgroup(ctBatchID)}, rate: 25}
	tl.at(2500*time.Millisecond, func(*ctTimeline) error {
		docker.Start(dockertest.Container{ID: ctBatchID, Name: "batch", Image: "busybox:1.37"})
		return nil
	})
	tl.at(2500*time.Millisecond, tl.born(t, batch))
	tl.at(3500*time.Millisecond, exits(201))
	tl.start(t)

	out, _ := ctRun(t, 30*time.Second, ctArgs(sysfs, tl.root,
		"--containers.docker-socket", docker.Socket(),
		"--containers.kubelet", "--containers.kubelet-url", kube.URL,
		"--containers.ca-file", kube.caFile, "--containers.token-file", token)...)
	recs := ctDecode(t, out)
	if len(recs) < 5 {
		t.Fatalf("%d lines, want at least 5:\n%s", len(recs), out)
	}
	ctCheckBooks(t, recs)
	if kube.calls.Load() == 0 || kube.denied.Load() != 0 {
		t.Errorf("kubelet: %d answered, %d denied; want answers to the token", kube.calls.Load(), kube.denied.Load())
	}

	type names struct{ ID, Name, Runtime, Pod, Namespace string }
	want := map[int]names{
		100: {}, 150: {},
		200: {ctWebID, "web", "docker", "", ""},
		201: {ctWebID, "web", "docker", "", ""},
		300: {ctAPIID, "api", "containerd", ctPod, ctNamespace},
		301: {ctSidecarID, "sidecar", "containerd", ctPod, ctNamespace},
	}
	var p201Last, webPrev int64
	batchFirst := -1
	for i, r := range recs {
		for pid, w := range want {
			c, ok := r.proc(pid)
			if !ok {
				if pid != 201 {
					t.Errorf("seq %d: no pid %d", r.Seq, pid)
				}
				continue
			}
			if got := (names{c.ContainerID, c.ContainerName, c.Runtime, c.Pod, c.Namespace}); got != w {
				t.Errorf("seq %d, pid %d: %+v, want %+v", r.Seq, pid, got, w)
			}
		}

		// web = its processes, the exited one included, and never less.
		web, ok := r.workload("container", ctWebID)
		if !ok || web.ContainerName != "web" || web.Runtime != "docker" {
			t.Fatalf("seq %d: web row %+v", r.Seq, web)
		}
		p200, _ := r.proc(200)
		sum := µJ(p200.EnergyJoules)
		wantProcs := 1
		if p201, ok := r.proc(201); ok {
			p201Last = µJ(p201.EnergyJoules)
			wantProcs = 2
		}
		sum += p201Last
		if got := µJ(web.EnergyJoules); got != sum || got < webPrev {
			t.Errorf("seq %d: web %d µJ (before %d), its processes %d µJ with the exited one", r.Seq, got, webPrev, sum)
		}
		if web.Processes != wantProcs {
			t.Errorf("seq %d: web has %d processes, want %d", r.Seq, web.Processes, wantProcs)
		}
		webPrev = µJ(web.EnergyJoules)

		// The pod is its two containers.
		pod, ok := r.workload("pod", ctPodUID)
		api, _ := r.workload("container", ctAPIID)
		side, _ := r.workload("container", ctSidecarID)
		if !ok || pod.Pod != ctPod || pod.Namespace != ctNamespace || pod.Processes != 2 {
			t.Errorf("seq %d: pod row %+v", r.Seq, pod)
		}
		if got, sum := µJ(pod.EnergyJoules), µJ(api.EnergyJoules)+µJ(side.EnergyJoules); got != sum {
			t.Errorf("seq %d: pod %d µJ, its containers %d µJ", r.Seq, got, sum)
		}
		if api.PodUID != ctPodUID || api.ContainerName != "api" {
			t.Errorf("seq %d: api row %+v", r.Seq, api)
		}
		if svc, ok := r.workload("service", "ssh.service"); !ok || svc.Processes != 1 {
			t.Errorf("seq %d: ssh.service row %+v", r.Seq, svc)
		}
		if c, ok := r.proc(150); ok && c.ContainerID != "" {
			t.Errorf("seq %d: a login session's process in a container: %+v", r.Seq, c)
		}

		// The container started after the agent.
		c, ok := r.proc(400)
		if !ok {
			continue
		}
		if batchFirst < 0 {
			batchFirst = i
			t.Logf("batch first seen in line %d, named %q", r.Seq, c.ContainerName)
		}
		if c.ContainerID != ctBatchID {
			t.Errorf("seq %d: batch container_id %q", r.Seq, c.ContainerID)
		}
		if i > batchFirst || c.ContainerName != "" {
			w, _ := r.workload("container", ctBatchID)
			if c.ContainerName != "batch" || w.ContainerName != "batch" {
				t.Errorf("seq %d: batch named %q (row %q), want \"batch\" within one step", r.Seq, c.ContainerName, w.ContainerName)
			}
		}
	}
	if batchFirst < 0 || batchFirst == len(recs)-1 {
		t.Errorf("the late container was seen in line %d of %d: too late to check it is named within one step", batchFirst, len(recs))
	}
	if _, ok := recs[len(recs)-1].proc(201); ok {
		t.Error("pid 201 never exited: the exited-process check did not run")
	}
}

// TestContainersKubeletDown: with the kubelet unreachable the agent runs
// on, and reports the pod's containers by ID, with their pod UID.
func TestContainersKubeletDown(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	sysfs, _ := fakeRAPL(t, map[string]float64{"intel-rapl:0": 30, "intel-rapl:1": 20}, 0)
	docker := dockertest.New(t, "1.47")
	docker.Add(dockertest.Container{ID: ctWebID, Name: "web", Image: "nginx:1.27"})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "https://" + ln.Addr().String()
	_ = ln.Close()
	tl := ctFixture(t)
	tl.start(t)

	out, stderr := ctRun(t, 30*time.Second, ctArgs(sysfs, tl.root,
		"--containers.docker-socket", docker.Socket(),
		"--containers.kubelet", "--containers.kubelet-url", down, "--containers.insecure-skip-verify",
		"--containers.token-file", "none")...)
	recs := ctDecode(t, out)
	if len(recs) < 5 {
		t.Fatalf("%d lines, want at least 5:\n%s", len(recs), out)
	}
	ctCheckBooks(t, recs)
	if !strings.Contains(stderr, "kubernetes pods unavailable") {
		t.Errorf("the kubelet being down was not logged:\n%s", stderr)
	}
	last := recs[len(recs)-1]
	if c, _ := last.proc(300); c.ContainerID != ctAPIID || c.Runtime != "containerd" || c.ContainerName != "" || c.Pod != "" {
		t.Errorf("pid 300: %+v, want its container by ID alone", c)
	}
	if c, _ := last.proc(200); c.ContainerName != "web" {
		t.Errorf("pid 200: %+v, want Docker's name", c)
	}
	pod, ok := last.workload("pod", ctPodUID)
	if !ok || pod.PodUID != ctPodUID || pod.Pod != "" || pod.Processes != 2 {
		t.Errorf("pod row %+v, want it by UID", pod)
	}
}
