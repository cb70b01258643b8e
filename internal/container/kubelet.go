package container

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/wattlens/wattlens/internal/fdio"
)

const (
	kubeRequestTimeout = 10 * time.Second
	maxPodListBytes    = 64 << 20
)

// kubeSource reads this node's pods, either from the kubelet
// (GET https://<node>:10250/pods, the kubelet's own PodList; needs the
// nodes/proxy permission) or from the API server
// (GET /api/v1/pods?fieldSelector=spec.nodeName=<node>; needs pods list),
// with a service-account bearer token. It maps each container ID of
// status.{,init,ephemeral}containerStatuses[].containerID
// ("containerd://<id>", "cri-o://<id>", "docker://<id>") to the container,
// pod and namespace names, and each pod UID to its pod and namespace.
type kubeSource struct {
	url       string
	tokenFile string // "" sends no token
	client    *http.Client
	period    time.Duration
	st        *store
	health    *health
}

// newKubeSource returns nil when no Kubernetes source is enabled, or,
// having logged why, when the configuration cannot work.
func newKubeSource(cfg Config, st *store, logger *slog.Logger) *kubeSource {
	var (
		name, u, ca string
		err         error
	)
	switch {
	case cfg.Kubelet:
		name, ca = "kubelet", cfg.CAFile
		u, err = kubeletPodsURL(cfg)
	case cfg.APIServer:
		name, ca = "apiserver", cfg.CAFile
		if ca == "" {
			ca = DefaultInClusterCA
		}
		u, err = apiServerPodsURL(cfg)
	default:
		return nil
	}
	log := logger.With("source", name)
	var tlsCfg *tls.Config
	if err == nil {
		tlsCfg, err = kubeTLS(ca, cfg.InsecureSkipVerify)
	}
	if err != nil {
		log.Warn("kubernetes pod source disabled", "err", err)
		return nil
	}
	token := cfg.TokenFile
	if token == "none" {
		token = ""
	}
	return &kubeSource{
		url:       u,
		tokenFile: token,
		client: &http.Client{
			Timeout: kubeRequestTimeout,
			Transport: &http.Transport{
				Proxy:               nil, // node-local kubelet, in-cluster API server
				TLSClientConfig:     tlsCfg,
				TLSHandshakeTimeout: 5 * time.Second,
				MaxIdleConns:        1,
				IdleConnTimeout:     2 * cfg.Refresh,
			},
		},
		period: cfg.Refresh,
		st:     st,
		health: &health{log: log.With("url", u)},
	}
}

// kubeletPodsURL returns the kubelet's /pods URL.
func kubeletPodsURL(cfg Config) (string, error) {
	base := cfg.KubeletURL
	if base == "" {
		host := cfg.NodeName
		if host == "" {
			host = "localhost"
		}
		base = "https://" + net.JoinHostPort(host, DefaultKubeletPort)
	}
	u, err := url.Parse(base)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "", fmt.Errorf("kubelet url %q: not an absolute URL", base)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/pods"
	}
	return u.String(), nil
}

// apiServerPodsURL returns the API server URL that lists this node's pods.
func apiServerPodsURL(cfg Config) (string, error) {
	if cfg.NodeName == "" {
		return "", errors.New("listing pods from the api server needs the node name (env NODE_NAME from the downward API)")
	}
	base := cfg.APIServerURL
	if base == "" {
		host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
		if host == "" || port == "" {
			return "", errors.New("api server url unknown: not in a cluster (KUBERNETES_SERVICE_HOST unset)")
		}
		base = "https://" + net.JoinHostPort(host, port)
	}
	u, err := url.Parse(base)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "", fmt.Errorf("api server url %q: not an absolute URL", base)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/api/v1/pods"
	u.RawQuery = url.Values{"fieldSelector": {"spec.nodeName=" + cfg.NodeName}}.Encode()
	return u.String(), nil
}

// kubeTLS builds the client TLS configuration: the CA bundle when given,
// else the system roots.
func kubeTLS(caFile string, insecure bool) (*tls.Config, error) {
	c := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: insecure} //nolint:gosec // an operator's explicit choice
	if insecure || caFile == "" {
		return c, nil
	}
	pem, err := fdio.ReadFile(caFile, 4<<20) // a FIFO is refused, never waited on
	if err != nil {
		return nil, fmt.Errorf("read ca file: %w", err)
	}
	c.RootCAs = x509.NewCertPool()
	if !c.RootCAs.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("ca file %s: no PEM certificate", caFile)
	}
	return c, nil
}

// wants: containers of a pod.
func (k *kubeSource) wants(w *Workload) bool { return w.PodUID != "" }

func (k *kubeSource) run(ctx context.Context, kick <-chan struct{}) {
	refreshLoop(ctx, k.period, missGap, kick, nil, k.refresh)
}

// refresh lists the pods and replaces the store's view. While the source
// is down only the periodic refresh retries; misses do not.
func (k *kubeSource) refresh(ctx context.Context, kicked bool) {
	if kicked && k.health.isDown() {
		return
	}
	list, err := k.fetch(ctx)
	if err != nil {
		if ctx.Err() == nil {
			k.health.fail("kubernetes pods unavailable, will retry", err, hint(err)...)
		}
		return
	}
	k.health.ok("kubernetes pods available again")
	k.st.replaceKube(indexPods(list))
}

func (k *kubeSource) fetch(ctx context.Context) (*podList, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	if k.tokenFile != "" {
		tok, err := fdio.ReadFile(k.tokenFile, 64<<10) // a FIFO is refused, never waited on
		if err != nil {
			return nil, fmt.Errorf("read token: %w", err)
		}
		req.Header.Set("Authorization", "Bearer "+string(bytes.TrimSpace(tok)))
	}
	resp, err := k.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("list pods: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("list pods: %s", resp.Status)
	}
	var list podList
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxPodListBytes)).Decode(&list); err != nil {
		return nil, fmt.Errorf("list pods: decode: %w", err)
	}
	return &list, nil
}

// hint adds the fix to a certificate the client does not trust.
func hint(err error) []any {
	var ua x509.UnknownAuthorityError
	if errors.As(err, &ua) {
		return []any{"hint", "give the kubelet's CA file or set insecure-skip-verify"}
	}
	return nil
}

// podList is the part of a v1 PodList that we read.
type podList struct {
	Items []struct {
		Metadata struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
			UID       string `json:"uid"`
		} `json:"metadata"`
		Status struct {
			ContainerStatuses          []containerStatus `json:"containerStatuses"`
			InitContainerStatuses      []containerStatus `json:"initContainerStatuses"`
			EphemeralContainerStatuses []containerStatus `json:"ephemeralContainerStatuses"`
		} `json:"status"`
	} `json:"items"`
}

type containerStatus struct {
	Name        string `json:"name"`
	ContainerID string `json:"containerID"` // "<runtime>://<id>"; empty until the container is created
}

// indexPods maps container IDs and pod UIDs to names.
func indexPods(list *podList) (containers, pods map[string]names) {
	containers, pods = map[string]names{}, map[string]names{}
	for _, p := range list.Items {
		m := p.Metadata
		if m.UID != "" {
			pods[m.UID] = names{Pod: m.Name, Namespace: m.Namespace}
		}
		for _, group := range [][]containerStatus{p.Status.ContainerStatuses, p.Status.InitContainerStatuses, p.Status.EphemeralContainerStatuses} {
			for _, c := range group {
				runtime, id := splitContainerID(c.ContainerID)
				if id == "" {
					continue
				}
				containers[id] = names{Name: c.Name, Pod: m.Name, Namespace: m.Namespace, Runtime: runtime}
			}
		}
	}
	return containers, pods
}

// splitContainerID splits "containerd://<id>" into the runtime (a Runtime*
// constant, empty for a scheme we do not know) and the ID.
func splitContainerID(s string) (runtime, id string) {
	scheme, id, ok := strings.Cut(s, "://")
	if !ok {
		return "", ""
	}
	switch scheme {
	case "containerd":
		runtime = RuntimeContainerd
	case "cri-o":
		runtime = RuntimeCRIO
	case "docker":
		runtime = RuntimeDocker
	}
	return runtime, id
}
