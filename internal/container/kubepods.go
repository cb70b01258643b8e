package container

import "strings"

// podOf finds the Kubernetes pod in the cgroup segments above (and
// including) a container's: the kubelet puts every pod under "kubepods",
//
//	cgroupfs driver: /kubepods/<qos>/pod<uid>/…           (<qos> = besteffort | burstable)
//	                 /kubepods/pod<uid>/…                 (Guaranteed: no QoS level)
//	systemd driver:  /kubepods.slice/kubepods-<qos>.slice/kubepods-<qos>-pod<uid_with_underscores>.slice/…
//	                 /kubepods.slice/kubepods-pod<uid>.slice/…
//	kind:            /kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-<qos>.slice/kubelet-kubepods-<qos>-pod<uid>.slice/…
//	systemd path used as cgroupfs: …/kubepods-<qos>-pod<uid>.slice:cri-containerd:<id>
//
// It returns the UID with dashes and the QoS class, or empty strings when
// the path is not under kubepods.
func podOf(segs []string) (uid, qos string) {
	inKube := false
	for _, s := range segs {
		if i := strings.IndexByte(s, ':'); i >= 0 {
			s = s[:i] // "<pod slice>:cri-containerd:<id>"
		}
		// "pod<uid>" counts under kubepods only; a systemd pod slice
		// names kubepods itself.
		if u, q := podSegment(s); u != "" && (inKube || !strings.HasPrefix(s, "pod")) {
			uid = u
			if q != "" {
				qos = q
			}
			inKube = true
			continue
		}
		switch {
		case s == "kubepods" || strings.HasSuffix(s, "kubepods.slice"):
			inKube = true
		case !inKube:
		case s == "besteffort" || strings.HasSuffix(s, "kubepods-besteffort.slice"):
			qos = QoSBestEffort
		case s == "burstable" || strings.HasSuffix(s, "kubepods-burstable.slice"):
			qos = QoSBurstable
		}
	}
	if uid == "" || !inKube {
		return "", ""
	}
	if qos == "" {
		qos = QoSGuaranteed
	}
	return uid, qos
}

// podSegment parses a pod's own cgroup name: "pod<uid>" (cgroupfs) or
// "…kubepods[-<qos>]-pod<uid_with_underscores>.slice" (systemd). qos is
// empty when the name does not say.
func podSegment(s string) (uid, qos string) {
	if u, ok := strings.CutPrefix(s, "pod"); ok {
		if isUID(u) {
			return u, ""
		}
		return "", ""
	}
	name, ok := strings.CutSuffix(s, ".slice")
	if !ok || !strings.Contains(name, "kubepods") {
		return "", ""
	}
	i := strings.LastIndex(name, "-pod")
	if i < 0 || !isUID(name[i+len("-pod"):]) {
		return "", ""
	}
	uid = strings.ReplaceAll(name[i+len("-pod"):], "_", "-")
	switch name = name[:i]; {
	case strings.HasSuffix(name, "-besteffort"):
		qos = QoSBestEffort
	case strings.HasSuffix(name, "-burstable"):
		qos = QoSBurstable
	}
	return uid, qos
}

// isUID reports whether s looks like a pod UID: a UUID
// (8-4-4-4-12 hex, dashes or, in systemd unit names, underscores) or the
// 32-hex hash that static pods get.
func isUID(s string) bool {
	if len(s) < 32 || len(s) > 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') && c != '-' && c != '_' {
			return false
		}
	}
	return true
}
