package e2e

// Fixtures of the --containers end-to-end tests (the fake Docker daemon is
// dockertest's): a fake kubelet over HTTPS, and a generated procfs whose
// processes' CPU times advance while the agent runs.

import (
	"context"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wattlens/wattlens/internal/procstat/procfstest"
)

// ctKubelet serves the kubelet's /pods over HTTPS to the right bearer
// token: one pod of two containers, in the v1 PodList shape.
type ctKubelet struct {
	*httptest.Server
	calls  atomic.Int32
	denied atomic.Int32
	caFile string
}

func ctNewKubelet(t *testing.T) *ctKubelet {
	t.Helper()
	k := &ctKubelet{}
	k.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/pods" {
			http.NotFound(w, r)
			return
		}
		if r.Header.Get("Authorization") != "Bearer "+ctToken {
			k.denied.Add(1)
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		k.calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprint(w, ctPodList)
	}))
	t.Cleanup(k.Close)
	k.caFile = filepath.Join(t.TempDir(), "kubelet-ca.crt")
	pemCert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: k.Certificate().Raw})
	if err := os.WriteFile(k.caFile, pemCert, 0o644); err != nil {
		t.Fatal(err)
	}
	return k
}

var ctPodList = `{"kind":"PodList","apiVersion":"v1","metadata":{},"items":[{
  "metadata":{"name":"` + ctPod + `","generateName":"api-7f9c4-","namespace":"` + ctNamespace + `","uid":"` + ctPodUID + `",
    "resourceVersion":"48213","creationTimestamp":"2026-03-02T09:14:07Z","labels":{"app":"api","pod-template-hash":"7f9c4"},
    "ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"api-7f9c4","uid":"d9c1a3b5-7e2f-4c6a-8b0d-1f3e5a7c9b2d","controller":true,"blockOwnerDeletion":true}]},
  "spec":{"containers":[{"name":"api","image":"ghcr.io/shop/api:2.1"},{"name":"sidecar","image":"envoyproxy/envoy:v1.31"}],
    "nodeName":"node-1","serviceAccountName":"default"},
  "status":{"phase":"Running","hostIP":"10.0.0.5","podIP":"10.244.1.17","startTime":"2026-03-02T09:14:07Z","qosClass":"Burstable",
    "containerStatuses":[
      {"name":"api","state":{"running":{"startedAt":"2026-03-02T09:14:11Z"}},"lastState":{},"ready":true,"restartCount":0,
       "image":"ghcr.io/shop/api:2.1","imageID":"ghcr.io/shop/api@sha256:9f8e","containerID":"containerd://` + ctAPIID + `","started":true},
      {"name":"sidecar","state":{"running":{"startedAt":"2026-03-02T09:14:12Z"}},"lastState":{},"ready":true,"restartCount":0,
       "image":"docker.io/envoyproxy/envoy:v1.31","imageID":"docker.io/envoyproxy/envoy@sha256:1a2b","containerID":"containerd://` + ctSidecarID + `","started":true}]}}]}`

// ctPodCgroup is a pod container's cgroup, systemd driver, containerd.
func ctPodCgroup(id string) string {
	return procfstest.CgroupV2("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" +
		strings.ReplaceAll(ctPodUID, "-", "_") + ".slice/cri-containerd-" + id + ".scope")
}

func ctDockerCgroup(id string) string {
	return procfstest.CgroupV2("/system.slice/docker-" + id + ".scope")
}

// ctProc is one fake process and its CPU rate, in USER_HZ ticks a second.
type ctProc struct {
	procfstest.Proc
	rate float64
}

func ctProcs() []ctProc {
	mk := func(pid int, comm, cgroup string, rate float64) ctProc {
		return ctProc{Proc: procfstest.Proc{PID: pid, PPID: 1, Comm: comm, UTime: 1000, StartTime: uint64(100 + pid),
			Cmdline: []string{"/usr/bin/" + comm}, Exe: "/usr/bin/" + comm, Cgroup: cgroup}, rate: rate}
	}
	return []ctProc{
		mk(100, "sshd", procfstest.CgroupV2("/system.slice/ssh.service"), 10),
		mk(150, "bash", procfstest.CgroupV2("/user.slice/user-1000.slice/session-2.scope"), 10),
		mk(200, "nginx", ctDockerCgroup(ctWebID), 30),
		mk(201, "nginx", ctDockerCgroup(ctWebID), 15),
		mk(300, "api", ctPodCgroup(ctAPIID), 40),
		mk(301, "envoy", ctPodCgroup(ctSidecarID), 8),
	}
}

// ctTimeline owns the fixture while the agent runs: it advances every
// live process's CPU time (stat files replaced atomically), and runs the
// scheduled events.
type ctTimeline struct {
	base   string
	root   string
	procs  map[int]*ctProc
	events []ctEvent
}

type ctEvent struct {
	at time.Duration
	do func(tl *ctTimeline) error
}

func (tl *ctTimeline) run(ctx context.Context, t *testing.T) {
	start := time.Now()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		el := time.Since(start)
		for len(tl.events) > 0 && tl.events[0].at <= el {
			if err := tl.events[0].do(tl); err != nil {
				t.Errorf("timeline at %v: %v", tl.events[0].at, err)
			}
			tl.events = tl.events[1:]
		}
		for _, p := range tl.procs {
			p.UTime = 1000 + uint64(p.rate*el.Seconds())
			if err := ctWriteAtomic(filepath.Join(tl.root, fmt.Sprint(p.PID), "stat"), procfstest.StatLine(p.Proc)); err != nil && ctx.Err() == nil {
				t.Errorf("advance pid %d: %v", p.PID, err)
			}
		}
	}
}

func ctWriteAtomic(path, content string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// ctFixture builds the procfs of ctProcs; the timeline starts with start.
func ctFixture(t *testing.T) *ctTimeline {
	t.Helper()
	base := t.TempDir()
	tl := &ctTimeline{base: base, root: filepath.Join(base, "proc"), procs: map[int]*ctProc{}}
	var fixed []procfstest.Proc
	for _, p := range ctProcs() {
		fixed = append(fixed, p.Proc)
		tl.procs[p.PID] = &p
	}
	procfstest.Build(t, tl.root, fixed)
	return tl
}

// at schedules do at d after start.
func (tl *ctTimeline) at(d time.Duration, do func(tl *ctTimeline) error) {
	tl.events = append(tl.events, ctEvent{at: d, do: do})
}

// born returns an event that makes p appear, whole: its files are built
// now outside the tree and moved in at once, so the agent never sees a
// process without its cgroup file.
func (tl *ctTimeline) born(t *testing.T, p ctProc) func(*ctTimeline) error {
	t.Helper()
	staging := filepath.Join(tl.base, fmt.Sprintf("stage-%d", p.PID))
	procfstest.Build(t, staging, []procfstest.Proc{p.Proc})
	return func(tl *ctTimeline) error {
		if err := os.Rename(filepath.Join(staging, fmt.Sprint(p.PID)), filepath.Join(tl.root, fmt.Sprint(p.PID))); err != nil {
			return err
		}
		tl.procs[p.PID] = &p
		return nil
	}
}

// exits returns an event that makes pid exit.
func exits(pid int) func(*ctTimeline) error {
	return func(tl *ctTimeline) error {
		delete(tl.procs, pid)
		return os.RemoveAll(filepath.Join(tl.root, fmt.Sprint(pid)))
	}
}

// start runs the timeline until the test ends. Events must be in time
// order.
func (tl *ctTimeline) start(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { tl.run(ctx, t) })
	t.Cleanup(func() { cancel(); wg.Wait() })
}

// ctRun runs wattlens to completion and returns standard output and
// standard error.
func ctRun(t *testing.T, limit time.Duration, args ...string) (stdout []byte, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, wattlensBin, args...)
	var errb strings.Builder
	cmd.Stderr = &errb
	out, err := cmd.Output()
	t.Logf("wattlens %s\nstderr:\n%s", strings.Join(args, " "), errb.String())
	if err != nil {
		t.Fatalf("wattlens %s: %v", strings.Join(args, " "), err)
	}
	return out, errb.String()
}
