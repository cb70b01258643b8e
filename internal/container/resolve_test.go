package container

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wattlens/wattlens/internal/procstat"
)

// Container IDs and pod UIDs seen in real cgroup files.
const (
	idDocker  = "a2ffe0e97ac22657a2a023ad628e9df837c38a03b1ebc904d3f6d644eb1a1a81"
	idDocker2 = "cd49b1e38a0c32aeaae5139402dd2a5a1b8bf10c77a04de1f054c8c4829558cb"
	idCtrd    = "ee4b20e90ac7f42a10bd004d05646b13d8ab5e2c5e7cbc01abf8006bac016459"
	idCRIO    = "5c68eadb70923f4b332d5bb6979f4cec65d7d46a40d283f64f208755186fa1e9"
	idPodman  = "046c7a5b5bf78ee0f178688bbfb31642f64af25380e98b0cee1966533c1b8df5"
	idNode    = "c8f3545e086a9cc4927f1d49d2465c31522631d720fecc0b83e48ded66c5e9ef"
	uid       = "0125ec2f-b64a-4868-8f5b-94b56cbab864"
	uidU      = "0125ec2f_b64a_4868_8f5b_94b56cbab864" // as systemd unit names spell it
	uidStatic = "8d2c1c3d7e9a4e6f0b5a1c2d3e4f5a6b"     // a static pod's config hash
)

func container(runtime, id string) *Workload {
	return &Workload{Kind: KindContainer, Runtime: runtime, ID: id}
}

func podContainer(runtime, id, uid, qos string) *Workload {
	return &Workload{Kind: KindContainer, Runtime: runtime, ID: id, PodUID: uid, QoS: qos}
}

func service(name string) *Workload {
	return &Workload{Kind: KindService, Runtime: RuntimeSystemd, ID: name}
}

// TestResolveCgroupFile goes from the content of /proc/<pid>/cgroup to the
// workload, for each runtime and cgroup driver.
func TestResolveCgroupFile(t *testing.T) {
	tests := []struct {
		name string
		file string
		want *Workload
	}{
		// Docker.
		{
			name: "docker v1 cgroupfs",
			file: `12:rdma:/
11:perf_event:/docker/` + idDocker + `
10:freezer:/docker/` + idDocker + `
9:memory:/docker/` + idDocker + `
3:cpu,cpuacct:/docker/` + idDocker + `
1:name=systemd:/docker/` + idDocker + `
`,
			want: container(RuntimeDocker, idDocker),
		},
		{
			// Debian 10 / Ubuntu 20.04: runc does not move the container
			// in the unified hierarchy, which still says containerd.
			name: "docker hybrid cgroupfs",
			file: `12:rdma:/
11:perf_event:/docker/` + idDocker + `
3:cpu,cpuacct:/docker/` + idDocker + `
1:name=systemd:/docker/` + idDocker + `
0::/system.slice/containerd.service
`,
			want: container(RuntimeDocker, idDocker),
		},
		{
			name: "docker v1 systemd",
			file: `10:devices:/system.slice/docker-` + idDocker2 + `.scope
4:memory:/system.slice/docker-` + idDocker2 + `.scope
3:cpuacct,cpu:/system.slice/docker-` + idDocker2 + `.scope
2:perf_event:/
1:name=systemd:/system.slice/docker-` + idDocker2 + `.scope
`,
			want: container(RuntimeDocker, idDocker2),
		},
		{
			name: "docker v2 cgroupfs",
			file: "0::/docker/" + idDocker + "\n",
			want: container(RuntimeDocker, idDocker),
		},
		{
			name: "docker v2 systemd",
			file: "0::/system.slice/docker-" + idDocker + ".scope\n",
			want: container(RuntimeDocker, idDocker),
		},
		{
			name: "docker rootless v2",
			file: "0::/user.slice/user-1000.slice/user@1000.service/user.slice/docker-" + idDocker + ".scope\n",
			want: container(RuntimeDocker, idDocker),
		},
		{
			name: "docker container running systemd",
			file: "0::/system.slice/docker-" + idDocker + ".scope/system.slice/nginx.service\n",
			want: container(RuntimeDocker, idDocker),
		},
		{
			name: "docker daemon is a service",
			file: "0::/system.slice/docker.service\n",
			want: service("docker.service"),
		},
		{
			name: "dockershim pod, systemd driver",
			file: "3:cpu,cpuacct:/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uidU + ".slice/docker-" + idDocker + ".scope\n",
			want: podContainer(RuntimeDocker, idDocker, uid, QoSBurstable),
		},

		// containerd under Kubernetes.
		{
			name: "containerd k8s systemd v2 burstable",
			file: "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uidU + ".slice/cri-containerd-" + idCtrd + ".scope\n",
			want: podContainer(RuntimeContainerd, idCtrd, uid, QoSBurstable),
		},
		{
			name: "containerd k8s systemd v2 besteffort",
			file: "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + uidU + ".slice/cri-containerd-" + idCtrd + ".scope\n",
			want: podContainer(RuntimeContainerd, idCtrd, uid, QoSBestEffort),
		},
		{
			name: "containerd k8s systemd v2 guaranteed",
			file: "0::/kubepods.slice/kubepods-pod" + uidU + ".slice/cri-containerd-" + idCtrd + ".scope\n",
			want: podContainer(RuntimeContainerd, idCtrd, uid, QoSGuaranteed),
		},
		{
			name: "containerd k8s systemd v1",
			file: `11:cpuset:/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod` + uidU + `.slice/cri-containerd-` + idCtrd + `.scope
4:cpu,cpuacct:/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod` + uidU + `.slice/cri-containerd-` + idCtrd + `.scope
1:name=systemd:/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod` + uidU + `.slice/cri-containerd-` + idCtrd + `.scope
`,
			want: podContainer(RuntimeContainerd, idCtrd, uid, QoSBurstable),
		},
		{
			// The kubelet's systemd cgroupsPath taken literally by a
			// containerd that runs the cgroupfs driver.
			name: "containerd k8s systemd path under containerd.service v1",
			file: `11:perf_event:/kubepods-besteffort-pod` + uidU + `.slice:cri-containerd:` + idCtrd + `
10:blkio:/system.slice/containerd.service/kubepods-besteffort-pod` + uidU + `.slice:cri-containerd:` + idCtrd + `
9:cpuacct,cpu:/system.slice/containerd.service/kubepods-besteffort-pod` + uidU + `.slice:cri-containerd:` + idCtrd + `
8:cpuset:/kubepods-besteffort-pod` + uidU + `.slice:cri-containerd:` + idCtrd + `
1:name=systemd:/system.slice/containerd.service/kubepods-besteffort-pod` + uidU + `.slice:cri-containerd:` + idCtrd + `
`,
			want: podContainer(RuntimeContainerd, idCtrd, uid, QoSBestEffort),
		},
		{
			name: "containerd k8s systemd path under containerd.service v2",
			file: "0::/system.slice/containerd.service/kubepods-burstable-pod" + uidU + ".slice:cri-containerd:" + idCtrd + "\n",
			want: podContainer(RuntimeContainerd, idCtrd, uid, QoSBurstable),
		},
		{
			name: "k8s cgroupfs v1 burstable",
			file: `11:memory:/kubepods/burstable/pod` + uid + `/` + idCtrd + `
4:cpu,cpuacct:/kubepods/burstable/pod` + uid + `/` + idCtrd + `
1:name=systemd:/kubepods/burstable/pod` + uid + `/` + idCtrd + `
`,
			want: podContainer("", idCtrd, uid, QoSBurstable),
		},
		{
			name: "k8s cgroupfs v2 besteffort (k3s)",
			file: "0::/kubepods/besteffort/pod" + uid + "/" + idCtrd + "\n",
			want: podContainer("", idCtrd, uid, QoSBestEffort),
		},
		{
			name: "k8s cgroupfs v2 guaranteed",
			file: "0::/kubepods/pod" + uid + "/" + idCtrd + "\n",
			want: podContainer("", idCtrd, uid, QoSGuaranteed),
		},
		{
			name: "k8s cgroupfs static pod",
			file: "0::/kubepods/burstable/pod" + uidStatic + "/" + idCtrd + "\n",
			want: podContainer("", idCtrd, uidStatic, QoSBurstable),
		},
		{
			// A kind node is a Docker container; its pods are deeper.
			name: "kind pod seen from the host",
			file: "0::/system.slice/docker-" + idNode + ".scope/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod" + uidU + ".slice/cri-containerd-" + idCtrd + ".scope\n",
			want: podContainer(RuntimeContainerd, idCtrd, uid, QoSBestEffort),
		},
		{
			name: "kind node's own processes",
			file: "0::/system.slice/docker-" + idNode + ".scope/system.slice/containerd.service\n",
			want: container(RuntimeDocker, idNode),
		},

		// containerd without Kubernetes.
		{
			name: "containerd default namespace",
			file: "0::/default/" + idCtrd + "\n",
			want: container(RuntimeContainerd, idCtrd),
		},
		{
			name: "containerd k8s.io namespace v1",
			file: "4:cpu,cpuacct:/k8s.io/" + idCtrd + "\n",
			want: container(RuntimeContainerd, idCtrd),
		},
		{
			name: "containerd /containerd",
			file: "0::/containerd/" + idCtrd + "\n",
			want: container(RuntimeContainerd, idCtrd),
		},
		{
			name: "nerdctl systemd",
			file: "0::/system.slice/nerdctl-" + idCtrd + ".scope\n",
			want: container(RuntimeContainerd, idCtrd),
		},

		// CRI-O.
		{
			name: "cri-o systemd v1",
			file: `9:cpu,cpuacct:/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod` + uidU + `.slice/crio-` + idCRIO + `.scope
1:name=systemd:/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod` + uidU + `.slice/crio-` + idCRIO + `.scope
`,
			want: podContainer(RuntimeCRIO, idCRIO, uid, QoSBurstable),
		},
		{
			name: "cri-o systemd v2 guaranteed",
			file: "0::/kubepods.slice/kubepods-pod" + uidU + ".slice/crio-" + idCRIO + ".scope\n",
			want: podContainer(RuntimeCRIO, idCRIO, uid, QoSGuaranteed),
		},
		{
			name: "cri-o v2 crun container subgroup",
			file: "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + uidU + ".slice/crio-" + idCRIO + ".scope/container\n",
			want: podContainer(RuntimeCRIO, idCRIO, uid, QoSBestEffort),
		},
		{
			name: "cri-o cgroupfs",
			file: "0::/kubepods/burstable/pod" + uid + "/crio-" + idCRIO + "\n",
			want: podContainer(RuntimeCRIO, idCRIO, uid, QoSBurstable),
		},
		{
			name: "cri-o conmon is not the container",
			file: "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uidU + ".slice/crio-conmon-" + idCRIO + ".scope\n",
			want: &Workload{},
		},
		{
			name: "cri-o conmon cgroupfs",
			file: "0::/kubepods/burstable/pod" + uid + "/crio-conmon-" + idCRIO + "\n",
			want: &Workload{},
		},

		// podman.
		{
			name: "podman rootful v2",
			file: "0::/machine.slice/libpod-" + idPodman + ".scope\n",
			want: container(RuntimePodman, idPodman),
		},
		{
			name: "podman rootful v2 crun subgroup",
			file: "0::/machine.slice/libpod-" + idPodman + ".scope/container\n",
			want: container(RuntimePodman, idPodman),
		},
		{
			name: "podman rootless v2",
			file: "0::/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" + idPodman + ".scope\n",
			want: container(RuntimePodman, idPodman),
		},
		{
			name: "podman rootless conmon",
			file: "0::/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-conmon-" + idPodman + ".scope\n",
			want: &Workload{},
		},
		{
			name: "podman pod",
			file: "0::/machine.slice/machine-libpod_pod_3f1a0b6c2d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a.slice/libpod-" + idPodman + ".scope\n",
			want: container(RuntimePodman, idPodman),
		},
		{
			name: "podman v1 cgroupfs",
			file: "10:cpu,cpuacct:/libpod_parent/libpod-" + idPodman + "\n2:name=systemd:/libpod_parent/libpod-" + idPodman + "\n",
			want: container(RuntimePodman, idPodman),
		},
		{
			name: "podman payload",
			file: "0::/libpod_parent/libpod-payload-" + idPodman + "\n",
			want: container(RuntimePodman, idPodman),
		},

		// systemd.
		{
			name: "systemd service v2",
			file: "0::/system.slice/nginx.service\n",
			want: service("nginx.service"),
		},
		{
			name: "systemd service v1",
			file: "4:cpu,cpuacct:/system.slice/nginx.service\n1:name=systemd:/system.slice/nginx.service\n",
			want: service("nginx.service"),
		},
		{
			// Hybrid, no CPU accounting: the cpu line stops at the slice.
			name: "systemd service hybrid",
			file: "4:cpu,cpuacct:/system.slice\n1:name=systemd:/system.slice/cron.service\n0::/system.slice/cron.service\n",
			want: service("cron.service"),
		},
		{
			name: "systemd templated service",
			file: "0::/system.slice/system-getty.slice/getty@tty1.service\n",
			want: service("getty@tty1.service"),
		},
		{
			name: "systemd service sub-cgroup",
			file: "0::/system.slice/containerd.service/worker\n",
			want: service("containerd.service"),
		},
		{
			name: "user service",
			file: "0::/user.slice/user-1000.slice/user@1000.service/session.slice/pipewire.service\n",
			want: service("pipewire.service"),
		},

		// Plain processes.
		{
			name: "user session v2",
			file: "0::/user.slice/user-1000.slice/session-2.scope\n",
			want: &Workload{},
		},
		{
			name: "user session v1",
			file: "3:cpuacct,cpu:/user.slice\n1:name=systemd:/user.slice/user-52321.slice/session-128207.scope\n",
			want: &Workload{},
		},
		{
			name: "desktop application scope",
			file: "0::/user.slice/user-1000.slice/user@1000.service/app.slice/app-org.gnome.Terminal.slice/vte-spawn-2b8e3a4c-5d6f-4a1b-9c8d-7e6f5a4b3c2d.scope\n",
			want: &Workload{},
		},
		{
			name: "systemd manager",
			file: "0::/init.scope\n",
			want: &Workload{},
		},
		{
			name: "root",
			file: "0::/\n",
			want: &Workload{},
		},
		{
			name: "v1 root",
			file: "12:cpu,cpuacct:/\n1:name=systemd:/\n",
			want: &Workload{},
		},
		{
			name: "empty",
			file: "",
			want: &Workload{},
		},
		{
			name: "garbage",
			file: "hello world\n\x00\xff:\n",
			want: &Workload{},
		},
		{
			name: "short id",
			file: "0::/docker/" + idDocker[:63] + "\n",
			want: &Workload{},
		},
		{
			name: "upper-case id",
			file: "0::/docker/" + strings.ToUpper(idDocker) + "\n",
			want: &Workload{},
		},
		{
			name: "not a container id",
			file: "0::/docker/buildkit\n",
			want: &Workload{},
		},
		{
			name: "pod segment outside kubepods",
			file: "0::/foo/pod" + uid + "/" + idCtrd + "\n",
			want: &Workload{},
		},
		{
			name: "cgroup namespace root seen from outside",
			file: "0::/../../system.slice/docker-" + idDocker + ".scope\n",
			want: container(RuntimeDocker, idDocker),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := procstat.CgroupPath([]byte(tt.file))
			got := NewResolver(0).Resolve(path)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Resolve(%q) mismatch (-want +got):\n%s", path, diff)
			}
		})
	}
}

func TestResolverCaches(t *testing.T) {
	r := NewResolver(0)
	p := "/system.slice/docker-" + idDocker + ".scope"
	a := r.Resolve(p)
	b := r.Resolve(strings.Clone(p))
	if a != b {
		t.Errorf("Resolve returned %p then %p for the same path; want the cached value", a, b)
	}
	if got := r.Len(); got != 1 {
		t.Errorf("Len() = %d, want 1", got)
	}
}

func TestResolverBounded(t *testing.T) {
	r := NewResolver(10)
	for i := range 100 {
		r.Resolve(fmt.Sprintf("/system.slice/svc-%d.service", i))
	}
	if got := r.Len(); got != 10 {
		t.Errorf("Len() = %d after 100 paths, want the bound 10", got)
	}
	// An evicted path resolves again to the same answer.
	if got, want := r.Resolve("/system.slice/svc-0.service"), service("svc-0.service"); !cmp.Equal(got, want) {
		t.Errorf("Resolve after eviction = %+v, want %+v", got, want)
	}
}

func TestResolverConcurrent(t *testing.T) {
	r := NewResolver(64)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				id := fmt.Sprintf("%064x", (g*7+i)%100)
				w := r.Resolve("/docker/" + id)
				if w.ID != id {
					t.Errorf("Resolve(/docker/%s).ID = %q", id, w.ID)
					return
				}
			}
		}()
	}
	wg.Wait()
}
