package main

import (
	"context"
	"errors"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/wattlens/wattlens/internal/attribution"
	"github.com/wattlens/wattlens/internal/container"
	"github.com/wattlens/wattlens/internal/procinfo"
)

// A container's workload names its groups: its container and pod accounts.
var _ attribution.Grouper = (*container.Workload)(nil)

// containerOpts are the --containers flags, the same for every exporter
// that shows containers (stdout, json, prometheus, prometheus-push).
type containerOpts struct {
	enabled bool
	cfg     container.Config
	refresh *time.Duration

	// enricher is set by hook when --containers is on.
	enricher *container.Enricher
}

// containerFlags declares the --containers flags on cmd.
func containerFlags(cmd *kingpin.CmdClause) *containerOpts {
	o := &containerOpts{}
	cmd.Flag("containers", "Attribute processes to containers, Kubernetes pods and systemd services, with names from the Docker Engine API and, with --containers.kubelet or --containers.apiserver, from Kubernetes.").
		BoolVar(&o.enabled)
	cmd.Flag("containers.docker-socket", "Docker Engine API socket (podman's compatible socket works too); \"none\" disables it. A socket that is not there is skipped with one log line.").
		Default(container.DefaultDockerSocket).PlaceHolder("PATH").StringVar(&o.cfg.DockerSocket)
	cmd.Flag("containers.podman-socket", "podman's Docker-compatible API socket (podman.socket, or podman system service), for podman's containers beside Docker's; \"none\" disables it. A socket that is not there is skipped with one log line.").
		Default(container.DefaultPodmanSocket).PlaceHolder("PATH").StringVar(&o.cfg.PodmanSocket)
	cmd.Flag("containers.kubelet", "Read this node's pods from the kubelet's /pods (needs the nodes/proxy permission).").
		BoolVar(&o.cfg.Kubelet)
	cmd.Flag("containers.kubelet-url", "The kubelet's base URL or full /pods URL; https://$NODE_NAME:10250 when empty.").
		PlaceHolder("URL").StringVar(&o.cfg.KubeletURL)
	cmd.Flag("containers.apiserver", "Read this node's pods from the API server instead (only this node's: spec.nodeName; needs pods list).").
		BoolVar(&o.cfg.APIServer)
	cmd.Flag("containers.node-name", "This node's Kubernetes name (from the downward API).").
		Envar("NODE_NAME").PlaceHolder("NAME").StringVar(&o.cfg.NodeName)
	cmd.Flag("containers.token-file", "Bearer token for the kubelet or API server, read again at each request; \"none\" sends no token.").
		Default(container.DefaultTokenFile).PlaceHolder("FILE").StringVar(&o.cfg.TokenFile)
	cmd.Flag("containers.ca-file", "CA certificates (PEM) that verify the kubelet or API server; when empty the in-cluster CA for the API server, the system roots for the kubelet.").
		PlaceHolder("FILE").StringVar(&o.cfg.CAFile)
	cmd.Flag("containers.insecure-skip-verify", "Do not verify the kubelet's or API server's certificate (kubelet serving certificates are often self-signed).").
		BoolVar(&o.cfg.InsecureSkipVerify)
	o.refresh = durationFlag(cmd.Flag("containers.refresh", "Period of the full refresh of container and pod names; new containers are named sooner, from Docker events and lookups of unknown IDs."),
		container.DefaultRefresh.String())
	return o
}

// hook starts the container metadata sources and returns the MetaHook that
// sets each new process's Meta.Workload to its container or service, and
// the function that stops the sources. With --containers off it returns a
// nil hook (newSampler leaves it out) and a no-op.
func (o *containerOpts) hook(ctx context.Context, e *env) (procinfo.MetaHook, func(), error) {
	nop := func() {}
	if !o.enabled {
		if o.cfg.Kubelet || o.cfg.APIServer {
			e.log.Warn("kubernetes container flags given without --containers; ignored")
		}
		return nil, nop, nil
	}
	if *o.refresh <= 0 {
		return nil, nop, usageError{errors.New("--containers.refresh must be more than 0")}
	}
	if o.cfg.Kubelet && o.cfg.APIServer {
		return nil, nop, usageError{errors.New("--containers.kubelet and --containers.apiserver: choose one")}
	}
	cfg := o.cfg
	cfg.Refresh = *o.refresh
	enr := container.NewEnricher(ctx, cfg, e.log)
	o.enricher = enr
	h := func(_ int, m *procinfo.Meta) {
		if m.Workload != nil {
			return // an earlier hook has said
		}
		// Meta.Cgroup follows procstat.CgroupPath's rule, the one the
		// resolver expects (the cpu controller's path on hybrid hosts).
		if w := enr.Lookup(m.Cgroup); w.Kind != container.KindNone {
			m.Workload = w
		}
	}
	return h, func() { _ = enr.Close() }, nil // Close only stops goroutines: no error
}

// names returns the function that exporters call for a container's names
// as known now; nil with --containers off.
func (o *containerOpts) names() container.NameFunc {
	if o.enricher == nil {
		return nil
	}
	return o.enricher.Name
}
