package container

import (
	"encoding/pem"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wattlens/wattlens/internal/polltest"
)

const (
	uid2    = "7e1f3a52-9c4d-4b8e-a6f0-2d5c8b9e1a34"
	uid2U   = "7e1f3a52_9c4d_4b8e_a6f0_2d5c8b9e1a34"
	idCtrd2 = "9b2d4f6a8c0e1f3a5b7d9e1c3a5f7b9d2e4c6a8f0b1d3e5a7c9f2b4d6e8a0c1f"
	idInit  = "1c9e7a5f3b1d9f7e5c3a1b9d7f5e3c1a9b7d5f3e1c9a7b5d3f1e9c7a5b3d1f9e"
	idPause = "4a6c8e0f2b4d6f8a0c2e4b6d8f0a2c4e6b8d0f2a4c6e8b0d2f4a6c8e0b2d4f6a"
)

// podListJSON is a kubelet /pods answer for two pods, trimmed of the
// fields nobody reads but kept in the real shape: a containerd pod with an
// init container and a cri-o pod.
const podListJSON = `{
  "kind": "PodList",
  "apiVersion": "v1",
  "metadata": {},
  "items": [
    {
      "metadata": {
        "name": "web-7d4b9c8f5-x2x9q",
        "generateName": "web-7d4b9c8f5-",
        "namespace": "shop",
        "uid": "` + uid + `",
        "resourceVersion": "48213",
        "creationTimestamp": "2026-03-02T09:14:07Z",
        "labels": {"app": "web", "pod-template-hash": "7d4b9c8f5"},
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d4b9c8f5", "uid": "d9c1a3b5-7e2f-4c6a-8b0d-1f3e5a7c9b2d", "controller": true, "blockOwnerDeletion": true}]
      },
      "spec": {
        "initContainers": [{"name": "migrate", "image": "ghcr.io/shop/migrate:1.4"}],
        "containers": [{"name": "app", "image": "ghcr.io/shop/web:1.4", "resources": {"requests": {"cpu": "100m"}}}],
        "nodeName": "node-1",
        "serviceAccountName": "default"
      },
      "status": {
        "phase": "Running",
        "hostIP": "10.0.0.5",
        "podIP": "10.244.1.17",
        "startTime": "2026-03-02T09:14:07Z",
        "qosClass": "Burstable",
        "initContainerStatuses": [
          {"name": "migrate", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}, "ready": true, "restartCount": 0,
           "image": "ghcr.io/shop/migrate:1.4", "imageID": "ghcr.io/shop/migrate@sha256:0b1c", "containerID": "containerd://` + idInit + `", "started": false}
        ],
        "containerStatuses": [
          {"name": "app", "state": {"running": {"startedAt": "2026-03-02T09:14:11Z"}}, "lastState": {}, "ready": true, "restartCount": 0,
           "image": "ghcr.io/shop/web:1.4", "imageID": "ghcr.io/shop/web@sha256:9f8e", "containerID": "containerd://` + idCtrd + `", "started": true}
        ]
      }
    },
    {
      "metadata": {
        "name": "node-exporter-b8k2m",
        "namespace": "monitoring",
        "uid": "` + uid2 + `",
        "creationTimestamp": "2026-03-01T22:40:51Z"
      },
      "spec": {"containers": [{"name": "node-exporter", "image": "quay.io/prometheus/node-exporter:v1.9.1"}], "nodeName": "node-1"},
      "status": {
        "phase": "Running",
        "qosClass": "Guaranteed",
        "containerStatuses": [
          {"name": "node-exporter", "state": {"running": {"startedAt": "2026-03-01T22:40:55Z"}}, "ready": true, "restartCount": 1,
           "image": "quay.io/prometheus/node-exporter:v1.9.1", "imageID": "quay.io/prometheus/node-exporter@sha256:4cb2", "containerID": "cri-o://` + idCRIO + `", "started": true}
        ]
      }
    }
  ]
}`

// fakeKube serves /pods (kubelet) and /api/v1/pods (API server) over TLS,
// answering only to the right bearer token.
type fakeKube struct {
	*httptest.Server
	token string
	mu    sync.Mutex
	body  string
	query string // last query of /api/v1/pods
	calls atomic.Int32
}

func newFakeKube(t *testing.T, token string) *fakeKube {
	t.Helper()
	f := &fakeKube{token: token, body: podListJSON}
	mux := http.NewServeMux()
	serve := func(w http.ResponseWriter, r *http.Request) {
		f.calls.Add(1)
		if r.Header.Get("Authorization") != "Bearer "+f.token {
			http.Error(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","message":"Unauthorized","code":401}`, http.StatusUnauthorized)
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		f.query = r.URL.RawQuery
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(f.body))
	}
	mux.HandleFunc("GET /pods", serve)
	mux.HandleFunc("GET /api/v1/pods", serve)
	f.Server = httptest.NewUnstartedServer(mux)
	f.Config.ErrorLog = log.New(io.Discard, "", 0) // handshakes that tests make fail on purpose
	f.StartTLS()
	t.Cleanup(f.Close)
	return f
}

func (f *fakeKube) setBody(s string) {
	f.mu.Lock()
	f.body = s
	f.mu.Unlock()
}

// files writes the token and the server's CA and returns their paths.
func (f *fakeKube) files(t *testing.T, token string) (tokenFile, caFile string) {
	t.Helper()
	dir := t.TempDir()
	tokenFile, caFile = filepath.Join(dir, "token"), filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.Certificate().Raw})
	if err := os.WriteFile(caFile, ca, 0o600); err != nil {
		t.Fatal(err)
	}
	return tokenFile, caFile
}

func kubeletConfig(url, tokenFile, caFile string) Config {
	return Config{
		DockerSocket: "none",
		PodmanSocket: "none",
		Kubelet:      true,
		KubeletURL:   url,
		NodeName:     "node-1",
		TokenFile:    tokenFile,
		CAFile:       caFile,
		Refresh:      time.Hour,
	}
}

func TestKubeletPods(t *testing.T) {
	f := newFakeKube(t, "s3cr3t")
	tokenFile, caFile := f.files(t, "s3cr3t")
	e, rec := newTestEnricher(t, kubeletConfig(f.URL, tokenFile, caFile))
	polltest.Until(t, "the pods are read", func() bool { _, _, _, ok := e.Name(idCtrd); return ok })

	tests := []struct {
		name, path string
		want       *Workload
	}{
		{
			name: "containerd, systemd driver",
			path: "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uidU + ".slice/cri-containerd-" + idCtrd + ".scope",
			want: &Workload{Kind: KindContainer, Runtime: RuntimeContainerd, ID: idCtrd, PodUID: uid, QoS: QoSBurstable,
				Name: "app", Pod: "web-7d4b9c8f5-x2x9q", Namespace: "shop"},
		},
		{
			name: "cgroupfs driver: runtime from the kubelet",
			path: "/kubepods/burstable/pod" + uid + "/" + idCtrd,
			want: &Workload{Kind: KindContainer, Runtime: RuntimeContainerd, ID: idCtrd, PodUID: uid, QoS: QoSBurstable,
				Name: "app", Pod: "web-7d4b9c8f5-x2x9q", Namespace: "shop"},
		},
		{
			name: "init container",
			path: "/kubepods/burstable/pod" + uid + "/" + idInit,
			want: &Workload{Kind: KindContainer, Runtime: RuntimeContainerd, ID: idInit, PodUID: uid, QoS: QoSBurstable,
				Name: "migrate", Pod: "web-7d4b9c8f5-x2x9q", Namespace: "shop"},
		},
		{
			name: "cri-o",
			path: "/kubepods.slice/kubepods-pod" + uid2U + ".slice/crio-" + idCRIO + ".scope",
			want: &Workload{Kind: KindContainer, Runtime: RuntimeCRIO, ID: idCRIO, PodUID: uid2, QoS: QoSGuaranteed,
				Name: "node-exporter", Pod: "node-exporter-b8k2m", Namespace: "monitoring"},
		},
		{
			name: "sandbox: pod from its UID",
			path: "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uidU + ".slice/cri-containerd-" + idPause + ".scope",
			want: &Workload{Kind: KindContainer, Runtime: RuntimeContainerd, ID: idPause, PodUID: uid, QoS: QoSBurstable,
				Pod: "web-7d4b9c8f5-x2x9q", Namespace: "shop"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, e.Lookup(tt.path)); diff != "" {
				t.Errorf("Lookup mismatch (-want +got):\n%s", diff)
			}
		})
	}
	// The sandbox's pod also shows per tick, after Lookup saw its cgroup.
	if name, pod, ns, ok := e.Name(idPause); !ok || name != "" || pod != "web-7d4b9c8f5-x2x9q" || ns != "shop" {
		t.Errorf("Name(pause) = %q, %q, %q, %v", name, pod, ns, ok)
	}
	if n := rec.count(slog.LevelDebug, "") + rec.count(slog.LevelWarn, "") + rec.count(slog.LevelError, ""); n != 0 {
		t.Errorf("%d debug/warn/error log lines with a healthy kubelet, want 0", n)
	}
}

// A pod started after the last refresh is read on the first miss.
func TestKubeletMissRefresh(t *testing.T) {
	f := newFakeKube(t, "tok")
	f.setBody(`{"kind":"PodList","apiVersion":"v1","metadata":{},"items":[]}`)
	tokenFile, caFile := f.files(t, "tok")
	e, _ := newTestEnricher(t, kubeletConfig(f.URL, tokenFile, caFile))
	polltest.Until(t, "the first listing", func() bool { return f.calls.Load() >= 1 })

	f.setBody(podListJSON)
	path := "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uidU + ".slice/cri-containerd-" + idCtrd + ".scope"
	if got := e.Lookup(path); got.Name != "" {
		t.Fatalf("Lookup().Name = %q before the pod is listed", got.Name)
	}
	polltest.Until(t, "the miss refreshes the pods", func() bool { n, _, _, _ := e.Name(idCtrd); return n == "app" })
}

// A wrong token is refused; the source warns once and the agent goes on.
func TestKubeletUnauthorized(t *testing.T) {
	f := newFakeKube(t, "right")
	tokenFile, caFile := f.files(t, "wrong")
	cfg := kubeletConfig(f.URL, tokenFile, caFile)
	cfg.Refresh = 10 * time.Millisecond
	e, rec := newTestEnricher(t, cfg)
	polltest.Until(t, "several attempts", func() bool { return f.calls.Load() >= 3 })
	if got := rec.count(slog.LevelWarn, "kubernetes pods unavailable"); got != 1 {
		t.Errorf("%d warnings over %d refused attempts, want 1", got, f.calls.Load())
	}
	// The token file is read at each request: a rotated token works.
	if err := os.WriteFile(tokenFile, []byte("right"), 0o600); err != nil {
		t.Fatal(err)
	}
	polltest.Until(t, "the rotated token is used", func() bool { _, _, _, ok := e.Name(idCtrd); return ok })
	polltest.Until(t, "recovery is logged", func() bool { return rec.count(slog.LevelInfo, "available again") == 1 })
}

// With the kubelet down, Lookup still says what the cgroup says.
func TestKubeletDown(t *testing.T) {
	f := newFakeKube(t, "tok")
	tokenFile, caFile := f.files(t, "tok")
	url := f.URL
	f.Close()

	cfg := kubeletConfig(url, tokenFile, caFile)
	cfg.Refresh = 10 * time.Millisecond
	e, rec := newTestEnricher(t, cfg)
	polltest.Until(t, "several attempts", func() bool { return rec.countAll("kubernetes pods unavailable") >= 3 })

	path := "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uidU + ".slice/cri-containerd-" + idCtrd + ".scope"
	want := podContainer(RuntimeContainerd, idCtrd, uid, QoSBurstable)
	for range 3 {
		if diff := cmp.Diff(want, e.Lookup(path)); diff != "" {
			t.Errorf("Lookup mismatch (-want +got):\n%s", diff)
		}
	}
	if _, _, _, ok := e.Name(idCtrd); ok {
		t.Errorf("Name(%s…) known with the kubelet down", idCtrd[:12])
	}
	if got := rec.count(slog.LevelWarn, "kubernetes pods unavailable"); got != 1 {
		t.Errorf("%d warnings, want 1", got)
	}
}

func TestKubeletUntrustedCertificate(t *testing.T) {
	f := newFakeKube(t, "tok")
	tokenFile, _ := f.files(t, "tok")
	// No CA file: the system roots do not know httptest's certificate.
	e, rec := newTestEnricher(t, kubeletConfig(f.URL, tokenFile, ""))
	polltest.Until(t, "a warning", func() bool { return rec.count(slog.LevelWarn, "kubernetes pods unavailable") == 1 })
	if _, _, _, ok := e.Name(idCtrd); ok {
		t.Errorf("pods read from an untrusted kubelet")
	}
	rec.mu.Lock()
	var hint string
	for _, r := range rec.records {
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "hint" {
				hint = a.Value.String()
			}
			return true
		})
	}
	rec.mu.Unlock()
	if !strings.Contains(hint, "insecure-skip-verify") {
		t.Errorf("hint = %q, want the fix", hint)
	}

	// InsecureSkipVerify is the operator's way out.
	cfg := kubeletConfig(f.URL, tokenFile, "")
	cfg.InsecureSkipVerify = true
	e2, _ := newTestEnricher(t, cfg)
	polltest.Until(t, "pods read without verification", func() bool { _, _, _, ok := e2.Name(idCtrd); return ok })
}

func TestAPIServerPods(t *testing.T) {
	f := newFakeKube(t, "tok")
	tokenFile, caFile := f.files(t, "tok")
	cfg := Config{
		DockerSocket: "none",
		PodmanSocket: "none",
		APIServer:    true,
		APIServerURL: f.URL,
		NodeName:     "node-1",
		TokenFile:    tokenFile,
		CAFile:       caFile,
		Refresh:      time.Hour,
	}
	e, _ := newTestEnricher(t, cfg)
	polltest.Until(t, "the pods are read", func() bool { _, _, _, ok := e.Name(idCRIO); return ok })
	f.mu.Lock()
	q := f.query
	f.mu.Unlock()
	if want := "fieldSelector=spec.nodeName%3Dnode-1"; q != want {
		t.Errorf("query = %q, want %q (this node's pods only)", q, want)
	}
}

func TestAPIServerNeedsNodeName(t *testing.T) {
	t.Setenv("NODE_NAME", "")
	e, rec := newTestEnricher(t, Config{DockerSocket: "none", PodmanSocket: "none", APIServer: true, APIServerURL: "https://10.96.0.1:443"})
	if len(e.sources) != 0 {
		t.Errorf("%d sources, want none without a node name", len(e.sources))
	}
	if got := rec.count(slog.LevelWarn, "disabled"); got != 1 {
		t.Errorf("%d warnings, want 1", got)
	}
}

func TestKubeletPodsURL(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"node name", Config{NodeName: "node-1"}, "https://node-1:10250/pods"},
		{"nothing", Config{}, "https://localhost:10250/pods"},
		{"base url", Config{KubeletURL: "https://10.0.0.5:10250"}, "https://10.0.0.5:10250/pods"},
		{"full url", Config{KubeletURL: "https://10.0.0.5:10250/pods"}, "https://10.0.0.5:10250/pods"},
		{"ipv6 node", Config{NodeName: "fd00::5"}, "https://[fd00::5]:10250/pods"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := kubeletPodsURL(tt.cfg)
			if err != nil || got != tt.want {
				t.Errorf("kubeletPodsURL() = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	if _, err := kubeletPodsURL(Config{KubeletURL: "10.0.0.5:10250"}); err == nil {
		t.Errorf("a URL without scheme was accepted")
	}
}

func TestSplitContainerID(t *testing.T) {
	tests := []struct{ in, runtime, id string }{
		{"containerd://" + idCtrd, RuntimeContainerd, idCtrd},
		{"cri-o://" + idCRIO, RuntimeCRIO, idCRIO},
		{"docker://" + idDocker, RuntimeDocker, idDocker},
		{"", "", ""},
		{idDocker, "", ""},
	}
	for _, tt := range tests {
		if rt, id := splitContainerID(tt.in); rt != tt.runtime || id != tt.id {
			t.Errorf("splitContainerID(%q) = %q, %q; want %q, %q", tt.in, rt, id, tt.runtime, tt.id)
		}
	}
}
