package procstat

import (
	"bufio"
	"bytes"
	"strings"
)

// CgroupPath returns the cgroup path that places a process, from the content of
// /proc/<pid>/cgroup (cgroups(7), "/proc/pid/cgroup"): lines of
// "<hierarchy-id>:<controllers>:<path>", where the cgroup v2 line is
// "0::<path>". The path may itself contain ':'.
//
//   - cgroup v2 only (one "0::" line): that line.
//   - cgroup v1: the line of the cpu/cpuacct controller, where CPU time is
//     accounted, else the first line.
//   - hybrid (v1 controllers and a "0::" line without controllers, as on
//     Debian 10 and Ubuntu 20.04): the cpu line, unless the "0::" path (or,
//     without it, the name=systemd path) lies at or below the cpu path;
//     then that deeper, more precise path. On such hosts a Docker
//     container is "3:cpu,cpuacct:/docker/<id>" but "0::/system.slice/containerd.service",
//     whereas a service without CPU accounting is
//     "4:cpu,cpuacct:/system.slice" but "0::/system.slice/cron.service".
//
// It returns "" when no line parses.
func CgroupPath(b []byte) string {
	var first, cpu, unified, named string
	var haveFirst, haveCPU, haveUnified, haveNamed bool
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		id, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		ctrls, path, ok := strings.Cut(rest, ":")
		if !ok {
			continue
		}
		if !haveFirst {
			first, haveFirst = path, true
		}
		switch {
		case id == "0" && ctrls == "":
			if !haveUnified {
				unified, haveUnified = path, true
			}
		case hasController(ctrls, "cpu") || hasController(ctrls, "cpuacct"):
			if !haveCPU {
				cpu, haveCPU = path, true
			}
		case ctrls == "name=systemd":
			if !haveNamed {
				named, haveNamed = path, true
			}
		}
	}
	precise, havePrecise := unified, haveUnified
	if !havePrecise {
		precise, havePrecise = named, haveNamed
	}
	switch {
	case haveCPU && havePrecise:
		if isUnder(precise, cpu) {
			return precise
		}
		return cpu
	case haveCPU:
		return cpu
	case havePrecise:
		return precise
	}
	return first
}

// hasController reports whether the comma-separated list holds c.
func hasController(list, c string) bool {
	for list != "" {
		var item string
		item, list, _ = strings.Cut(list, ",")
		if item == c {
			return true
		}
	}
	return false
}

// isUnder reports whether cgroup path p is anc or lies below it.
func isUnder(p, anc string) bool {
	anc = strings.TrimSuffix(anc, "/")
	return p == anc || anc == "" || strings.HasPrefix(p, anc+"/")
}
