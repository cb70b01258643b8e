package container

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wattlens/wattlens/internal/container/dockertest"
	"github.com/wattlens/wattlens/internal/polltest"
)

func dockerConfig(socket string) Config {
	return Config{DockerSocket: socket, PodmanSocket: "none", Refresh: time.Hour}
}

func dockerPath(id string) string { return "/system.slice/docker-" + id + ".scope" }

func TestDockerListNames(t *testing.T) {
	f := dockertest.New(t, "1.41")
	f.Add(dockertest.Container{ID: idDocker, Name: "web", Labels: map[string]string{"com.docker.compose.service": "web"}})
	e, _ := newTestEnricher(t, dockerConfig(f.Socket()))

	polltest.Until(t, "the first listing is read", func() bool { _, _, _, ok := e.Name(idDocker); return ok })
	want := &Workload{Kind: KindContainer, Runtime: RuntimeDocker, ID: idDocker, Name: "web"}
	if diff := cmp.Diff(want, e.Lookup(dockerPath(idDocker))); diff != "" {
		t.Errorf("Lookup mismatch (-want +got):\n%s", diff)
	}
}

// Docker 29 serves API 1.44 and later only: the version is negotiated.
func TestDockerAPIVersionNegotiated(t *testing.T) {
	f := dockertest.New(t, "1.52")
	f.Add(dockertest.Container{ID: idDocker, Name: "web"})
	e, rec := newTestEnricher(t, dockerConfig(f.Socket()))
	polltest.Until(t, "the first listing is read", func() bool { _, _, _, ok := e.Name(idDocker); return ok })
	polltest.Until(t, "the event stream is connected", func() bool { return f.Conns() == 1 })
	if n := rec.countAll(""); n != 0 {
		t.Errorf("%d log lines, want none", n)
	}
}

// A daemon upgraded under the agent refuses the old version; the next
// listing negotiates again.
func TestDockerAPIVersionRenegotiated(t *testing.T) {
	f := dockertest.New(t, "1.43")
	e, rec := newTestEnricher(t, dockerConfig(f.Socket()))
	polltest.Until(t, "the first listing", func() bool { return f.Lists() == 1 })
	f.SetVersion("1.52")
	f.Add(dockertest.Container{ID: idDocker, Name: "web"})
	e.Lookup(dockerPath(idDocker)) // a miss: list again
	polltest.Until(t, "the listing under the new version", func() bool { _, _, _, ok := e.Name(idDocker); return ok })
	if n := rec.count(slog.LevelWarn, ""); n != 0 {
		t.Errorf("%d warnings, want none", n)
	}
}

func TestIsAPIVersion(t *testing.T) {
	for v, want := range map[string]bool{"1.41": true, "1.52": true, "": false, "1": false, "1.": false, "v1.41": false, "1.4x": false} {
		if got := isAPIVersion(v); got != want {
			t.Errorf("isAPIVersion(%q) = %v, want %v", v, got, want)
		}
	}
}

func TestDockerKubernetesLabels(t *testing.T) {
	f := dockertest.New(t, "1.41")
	f.Add(dockertest.Container{ID: idDocker, Name: "k8s_app_web-7d4b9c8f5-x2x9q_shop_" + uid + "_0", Labels: map[string]string{
		"io.kubernetes.container.name": "app",
		"io.kubernetes.pod.name":       "web-7d4b9c8f5-x2x9q",
		"io.kubernetes.pod.namespace":  "shop",
		"io.kubernetes.pod.uid":        uid,
	}})
	e, _ := newTestEnricher(t, dockerConfig(f.Socket()))
	polltest.Until(t, "the first listing is read", func() bool { _, _, _, ok := e.Name(idDocker); return ok })
	name, pod, ns, _ := e.Name(idDocker)
	if diff := cmp.Diff([]string{"app", "web-7d4b9c8f5-x2x9q", "shop"}, []string{name, pod, ns}); diff != "" {
		t.Errorf("Name mismatch (-want +got):\n%s", diff)
	}
}

// A container started after the agent gets its name from the event
// stream, with no listing (the periodic refresh is an hour away and the
// listing never shows it).
func TestDockerEventStart(t *testing.T) {
	f := dockertest.New(t, "1.41")
	e, _ := newTestEnricher(t, dockerConfig(f.Socket()))
	polltest.Until(t, "the event stream is connected", func() bool { return f.Conns() == 1 })

	f.SendStart(dockertest.Container{ID: idDocker2, Name: "cache", Image: "redis:7", Labels: map[string]string{"com.docker.compose.service": "cache"}})
	polltest.Until(t, "the started container is named", func() bool { n, _, _, _ := e.Name(idDocker2); return n == "cache" })
	if got := e.Lookup(dockerPath(idDocker2)).Name; got != "cache" {
		t.Errorf("Lookup().Name = %q, want cache", got)
	}
}

// When the event stream drops (dockerd restarts), the source reconnects
// and lists again, catching containers started meanwhile.
func TestDockerEventReconnect(t *testing.T) {
	f := dockertest.New(t, "1.41")
	e, _ := newTestEnricher(t, dockerConfig(f.Socket()))
	polltest.Until(t, "the event stream is connected", func() bool { return f.Conns() == 1 })
	polltest.Until(t, "the first listing", func() bool { return f.Lists() == 1 })
	f.Add(dockertest.Container{ID: idDocker, Name: "during-outage"})
	f.DropEvents()
	polltest.Until(t, "the stream reconnects", func() bool { return f.Conns() == 2 })
	polltest.Until(t, "the listing after reconnection", func() bool { n, _, _, _ := e.Name(idDocker); return n == "during-outage" })
}

// A cache miss lists the containers again, at most once a second.
func TestDockerMissRefresh(t *testing.T) {
	f := dockertest.New(t, "1.41")
	e, _ := newTestEnricher(t, dockerConfig(f.Socket()))
	polltest.Until(t, "the first listing is read", func() bool { return f.Lists() == 1 })

	f.Add(dockertest.Container{ID: idDocker, Name: "late"}) // no event: only a listing can tell
	if got := e.Lookup(dockerPath(idDocker)).Name; got != "" {
		t.Fatalf("Lookup().Name = %q before any refresh, want empty", got)
	}
	polltest.Until(t, "the miss refreshes the listing", func() bool { n, _, _, _ := e.Name(idDocker); return n == "late" })

	// A burst of misses on unknown containers: at most one listing per
	// second (the first may run at once, the next a second later).
	before := f.Lists()
	start := time.Now()
	for i := range 50 {
		e.Lookup(dockerPath(fmt.Sprintf("%064x", i)))
	}
	time.Sleep(300 * time.Millisecond)
	elapsed := time.Since(start)
	if got, max := f.Lists()-before, int(elapsed/time.Second)+1; got > max {
		t.Errorf("%d listings in %v after 50 misses, want at most %d", got, elapsed, max)
	}
}

// Lookup and Name run on many goroutines while events and listings
// update the names (run with -race).
func TestEnricherConcurrent(t *testing.T) {
	f := dockertest.New(t, "1.41")
	e, _ := newTestEnricher(t, dockerConfig(f.Socket()))
	polltest.Until(t, "the event stream is connected", func() bool { return f.Conns() == 1 })
	ids := make([]string, 20)
	for i := range ids {
		ids[i] = fmt.Sprintf("%064x", 1000+i)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				id := ids[(g+i)%len(ids)]
				if w := e.Lookup(dockerPath(id)); w.ID != id {
					t.Errorf("Lookup().ID = %q, want %q", w.ID, id)
					return
				}
				e.Name(id)
			}
		}()
	}
	for i, id := range ids {
		f.SendStart(dockertest.Container{ID: id, Name: fmt.Sprintf("c%d", i), Image: "redis:7"})
	}
	wg.Wait()
	for i, id := range ids {
		want := fmt.Sprintf("c%d", i)
		polltest.Until(t, "every started container is named", func() bool { n, _, _, _ := e.Name(id); return n == want })
	}
}

func TestDockerSocketAbsent(t *testing.T) {
	socket := filepath.Join(t.TempDir(), "docker.sock")
	e, rec := newTestEnricher(t, dockerConfig(socket))
	w := e.Lookup(dockerPath(idDocker))
	if diff := cmp.Diff(container(RuntimeDocker, idDocker), w); diff != "" {
		t.Errorf("Lookup mismatch (-want +got):\n%s", diff)
	}
	if got := rec.countAll("docker"); got != 1 {
		t.Errorf("%d log lines about docker, want 1", got)
	}
}

func TestDockerDisabled(t *testing.T) {
	e, rec := newTestEnricher(t, Config{DockerSocket: "none", PodmanSocket: "none"})
	if got := e.Lookup(dockerPath(idDocker)).ID; got != idDocker {
		t.Errorf("Lookup().ID = %q, want %q", got, idDocker)
	}
	if len(e.sources) != 0 || rec.countAll("") != 0 {
		t.Errorf("docker disabled: %d sources and %d log lines, want none", len(e.sources), rec.countAll(""))
	}
}

func TestDockerEventApply(t *testing.T) {
	st := newStore()
	d := &dockerSource{st: st}
	var ev dockerEvent
	raw := `{"status":"start","id":"` + idDocker + `","from":"nginx","Type":"container","Action":"start","Actor":{"ID":"` + idDocker + `","Attributes":{"image":"nginx","name":"web"}},"scope":"local","time":1,"timeNano":1}`
	if err := json.Unmarshal([]byte(raw), &ev); err != nil {
		t.Fatal(err)
	}
	d.apply(ev)
	if n, ok := st.get(idDocker); !ok || n.Name != "web" {
		t.Fatalf("after start: get = %+v, %v; want web", n, ok)
	}
	ev.Action, ev.Actor.Attributes["name"] = "rename", "www"
	d.apply(ev)
	if n, _ := st.get(idDocker); n.Name != "www" {
		t.Errorf("after rename: name %q, want www", n.Name)
	}
	ev.Action = "destroy"
	d.apply(ev)
	if _, ok := st.get(idDocker); ok {
		t.Errorf("after destroy: still known")
	}
	ev.Type, ev.Action = "network", "start"
	d.apply(ev)
	if _, ok := st.get(idDocker); ok {
		t.Errorf("a network event made a container")
	}
}

// A listing drops containers it does not show, unless an event showed
// them after the listing began.
func TestDockerMerge(t *testing.T) {
	st := newStore()
	start := time.Now()
	st.docker[idDocker] = dockerEntry{names: names{Name: "old"}, seen: start.Add(-time.Minute), src: "docker"}
	st.docker[idCRIO] = dockerEntry{names: names{Name: "podman's"}, seen: start.Add(-time.Minute), src: "podman"}
	st.setDocker("docker", idDocker2, names{Name: "started-during-list"})
	st.mergeDocker("docker", map[string]names{idPodman: {Name: "listed"}}, start)
	for id, want := range map[string]bool{idDocker: false, idDocker2: true, idPodman: true, idCRIO: true} {
		if _, ok := st.get(id); ok != want {
			t.Errorf("known(%s…) = %v, want %v", id[:12], ok, want)
		}
	}
}

// Docker's socket and podman's at once: each names its own containers,
// and neither listing drops the other's.
func TestDockerAndPodmanSockets(t *testing.T) {
	docker := dockertest.New(t, "1.47")
	docker.Add(dockertest.Container{ID: idDocker, Name: "web"})
	podman := dockertest.New(t, "1.41")
	podman.Add(dockertest.Container{ID: idPodman, Name: "db"})
	e, rec := newTestEnricher(t, Config{DockerSocket: docker.Socket(), PodmanSocket: podman.Socket(), Refresh: time.Hour})
	polltest.Until(t, "both listings are read", func() bool {
		_, _, _, d := e.Name(idDocker)
		_, _, _, p := e.Name(idPodman)
		return d && p
	})
	// A podman container that starts later is listed on a miss; the
	// listing of podman's socket must keep Docker's names.
	podman.Add(dockertest.Container{ID: idDocker2, Name: "late"})
	lists := docker.Lists()
	e.Lookup("/machine.slice/libpod-" + idDocker2 + ".scope")
	polltest.Until(t, "the late podman container is named", func() bool { n, _, _, _ := e.Name(idDocker2); return n == "late" })
	for id, want := range map[string]string{idDocker: "web", idPodman: "db"} {
		if n, _, _, _ := e.Name(id); n != want {
			t.Errorf("Name(%s…) = %q, want %q", id[:12], n, want)
		}
	}
	if got := e.Lookup("/machine.slice/libpod-" + idPodman + ".scope"); got.Runtime != RuntimePodman || got.Name != "db" {
		t.Errorf("podman's container: %+v", got)
	}
	if docker.Lists() != lists {
		t.Errorf("a podman container's miss listed Docker's socket too (%d listings, were %d)", docker.Lists(), lists)
	}
	if n := rec.count(slog.LevelWarn, ""); n != 0 {
		t.Errorf("%d warnings, want none", n)
	}
}

// podman's socket given as the Docker socket too is read once.
func TestPodmanSocketSameAsDocker(t *testing.T) {
	f := dockertest.New(t, "1.41")
	e, _ := newTestEnricher(t, Config{DockerSocket: f.Socket(), PodmanSocket: f.Socket(), Refresh: time.Hour})
	if len(e.sources) != 1 {
		t.Errorf("%d sources for one socket, want 1", len(e.sources))
	}
}
