package main

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/wattlens/wattlens/internal/container"
	"github.com/wattlens/wattlens/internal/privilege"
)

// privilegeInfo is what info says of this process's privileges: who it
// runs as, its effective capabilities, and for each source that does not
// work for want of a privilege, the one that would make it work.
type privilegeInfo struct {
	UID       uint64   `json:"uid"`
	Effective []string `json:"effective_capabilities"`
	// Error says why <procfs>/self/status could not be read.
	Error   string          `json:"error,omitempty"`
	Missing []missingSource `json:"missing,omitempty"`
}

type missingSource struct {
	Source  string `json:"source"`
	Needs   string `json:"needs"`
	Without string `json:"without"`
}

// privileges reads <procfs>/self/status and lists, from info's findings,
// the sources that a privilege would make work.
func (e *env) privileges(rep *infoReport) privilegeInfo {
	p, err := privilege.Self(e.cfg.ProcFS)
	if err != nil {
		return privilegeInfo{Effective: []string{}, Error: err.Error()}
	}
	pi := privilegeInfo{UID: p.UID, Effective: p.Effective.Names()}
	add := func(source string) {
		n, ok := privilege.Lookup(source)
		if ok {
			pi.Missing = append(pi.Missing, missingSource{Source: source, Needs: p.Fix(n), Without: n.Without})
		}
	}
	for _, s := range rep.Sensors {
		if s.Permission {
			add(s.Name)
		}
	}
	// The eBPF program is a tracing program: the kernel loads it for
	// CAP_BPF with CAP_PERFMON only (kernel/bpf/syscall.c, bpf_prog_load),
	// whatever unprivileged_bpf_disabled says.
	if ebpf, _ := privilege.Lookup("ebpf (--cpu-source ebpf)"); len(p.Missing(ebpf)) > 0 {
		add(ebpf.Source)
	}
	if !p.Effective.Has(privilege.SysPtrace) {
		add("process exe and I/O of other users")
	}
	if group, refused := dockerRefused(container.DefaultDockerSocket); refused {
		n, _ := privilege.Lookup("containers (Docker)")
		pi.Missing = append(pi.Missing, missingSource{Source: n.Source,
			Needs: "membership of group " + group + ", which owns " + container.DefaultDockerSocket, Without: n.Without})
	}
	return pi
}

// dockerRefused reports whether the Docker socket is there but this
// process may not connect to it (EACCES: not in the socket's group), and
// the socket's group ("docker (gid 999)").
func dockerRefused(socket string) (group string, refused bool) {
	fi, err := os.Stat(socket)
	if err != nil {
		return "", false
	}
	c, err := net.DialTimeout("unix", socket, time.Second)
	if err == nil {
		_ = c.Close()
		return "", false
	}
	if !errors.Is(err, fs.ErrPermission) && !errors.Is(err, syscall.EACCES) {
		return "", false
	}
	group = "the socket's"
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		gid := strconv.FormatUint(uint64(st.Gid), 10)
		group = "gid " + gid
		if g, err := user.LookupGroupId(gid); err == nil {
			group = g.Name + " (gid " + gid + ")"
		}
	}
	return group, true
}

// writePrivileges prints the privileges section.
func writePrivileges(b *strings.Builder, pi privilegeInfo) {
	b.WriteString("\nPrivileges\n")
	if pi.Error != "" {
		fmt.Fprintf(b, "  unknown: %s\n", pi.Error)
		return
	}
	caps := "none"
	if len(pi.Effective) > 0 {
		caps = strings.Join(pi.Effective, ", ")
		if len(pi.Effective) > 8 {
			caps = fmt.Sprintf("%d, %s among them", len(pi.Effective),
				strings.Join(slices.DeleteFunc(slices.Clone(pi.Effective), func(c string) bool {
					return !slices.Contains([]string{"CAP_PERFMON", "CAP_BPF", "CAP_SYS_PTRACE", "CAP_SYS_RAWIO", "CAP_SYS_ADMIN"}, c)
				}), ", "))
		}
	}
	fmt.Fprintf(b, "  uid %d, effective capabilities: %s\n", pi.UID, caps)
	if len(pi.Missing) == 0 {
		b.WriteString("  every source that exists here has the privilege it needs\n")
		return
	}
	b.WriteString("  not working for want of a privilege (source: what would make it work; what fails without it):\n")
	for _, m := range pi.Missing {
		fmt.Fprintf(b, "    %s: %s; %s\n", m.Source, m.Needs, m.Without)
	}
}
