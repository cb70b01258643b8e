package container

import (
	"strings"

	"github.com/wattlens/wattlens/internal/ascii"
)

// A matcher recognises one cgroup path segment as a container of its
// runtime and returns the container's full ID. It sees the whole path so
// that it can look at the parent segment ("/docker/<id>").
type matcher struct {
	runtime string
	match   func(segs []string, i int) (id string, ok bool)
}

// runtimes is the ordered list of container matchers; on a segment the
// first that matches wins. Names seen in the wild:
//
//	docker      /docker/<id>                                  cgroupfs driver, v1 and v2
//	            /system.slice/docker-<id>.scope               systemd driver (rootless: …/user@1000.service/user.slice/docker-<id>.scope)
//	containerd  …/cri-containerd-<id>.scope                   CRI plugin, systemd driver
//	            …/kubepods-<qos>-pod<uid>.slice:cri-containerd:<id>   systemd cgroupsPath used as a cgroupfs path
//	            /containerd/<id>, /default/<id>, /k8s.io/<id>  plain containerd (ctr), per namespace
//	            /system.slice/nerdctl-<id>.scope              nerdctl, systemd driver
//	cri-o       …/crio-<id>.scope, …/pod<uid>/crio-<id>, …:crio:<id>
//	            …/crio-conmon-<id>.scope is conmon, not the container
//	podman      /machine.slice/libpod-<id>.scope               rootful
//	            /user.slice/user-1000.slice/user@1000.service/user.slice/libpod-<id>.scope   rootless
//	            /libpod_parent/libpod-<id>, …/libpod-payload-<id>   cgroupfs manager
//	            …/libpod-conmon-<id>.scope is conmon, not the container
//	kubernetes  /kubepods/<qos>/pod<uid>/<id>                   cgroupfs driver: the runtime is not in the path
//
// A segment below the container's own ("crio-<id>.scope/container", as
// crun makes on cgroup v2) does not match; the search goes on upwards and
// finds the container.
var runtimes = []matcher{
	{RuntimeDocker, matchDocker},
	{RuntimeContainerd, matchContainerd},
	{RuntimeCRIO, matchCRIO},
	{RuntimePodman, matchPodman},
	{"", matchKubepods},
}

func matchDocker(segs []string, i int) (string, bool) {
	s := segs[i]
	if id, ok := unitID(s, "docker-", ".scope"); ok {
		return id, true
	}
	return s, isHex64(s) && parentIs(segs, i, "docker")
}

func matchContainerd(segs []string, i int) (string, bool) {
	s := segs[i]
	if id, ok := unitID(s, "cri-containerd-", ".scope"); ok {
		return id, true
	}
	if id, ok := colonID(s, "cri-containerd"); ok {
		return id, true
	}
	if id, ok := unitID(s, "nerdctl-", ".scope"); ok {
		return id, true
	}
	return s, isHex64(s) && parentIs(segs, i, "containerd", "default", "k8s.io")
}

func matchCRIO(segs []string, i int) (string, bool) {
	s := segs[i]
	if strings.HasPrefix(s, "crio-conmon-") {
		return "", false // conmon, the runtime's monitor: not the container
	}
	if id, ok := unitID(s, "crio-", ".scope"); ok {
		return id, true
	}
	if id, ok := unitID(s, "crio-", ""); ok {
		return id, true
	}
	return colonID(s, "crio")
}

func matchPodman(segs []string, i int) (string, bool) {
	s := segs[i]
	if strings.HasPrefix(s, "libpod-conmon-") {
		return "", false // conmon: not the container
	}
	if id, ok := unitID(s, "libpod-", ".scope"); ok {
		return id, true
	}
	if id, ok := unitID(s, "libpod-payload-", ""); ok {
		return id, true
	}
	return unitID(s, "libpod-", "")
}

// matchKubepods matches a bare ID right under a pod's cgroup (cgroupfs
// driver: "/kubepods/burstable/pod<uid>/<id>"). The runtime is unknown
// from the path; the kubelet tells it later.
func matchKubepods(segs []string, i int) (string, bool) {
	s := segs[i]
	if !isHex64(s) || i == 0 {
		return "", false
	}
	if uid, _ := podSegment(segs[i-1]); uid == "" {
		return "", false
	}
	uid, _ := podOf(segs[:i])
	return s, uid != ""
}

// unitID returns the ID in "<prefix><id><suffix>" when id is 64 hex.
func unitID(s, prefix, suffix string) (string, bool) {
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok {
		return "", false
	}
	rest, ok = strings.CutSuffix(rest, suffix)
	if !ok || !isHex64(rest) {
		return "", false
	}
	return rest, true
}

// colonID returns the ID in a systemd-style cgroupsPath that a runtime
// used as a plain path, "<slice>:<prefix>:<id>".
func colonID(s, prefix string) (string, bool) {
	_, after, ok := strings.Cut(s, ":"+prefix+":")
	if !ok || !isHex64(after) {
		return "", false
	}
	return after, true
}

func parentIs(segs []string, i int, names ...string) bool {
	if i == 0 {
		return false
	}
	for _, n := range names {
		if segs[i-1] == n {
			return true
		}
	}
	return false
}

// isHex64 reports whether s is a full container ID: 64 lower-case hex digits.
func isHex64(s string) bool { return len(s) == 64 && ascii.IsLowerHex(s) }
