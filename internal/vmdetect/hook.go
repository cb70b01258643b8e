package vmdetect

import (
	"bytes"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/wattlens/wattlens/internal/procinfo"
	"github.com/wattlens/wattlens/internal/vmdetect/qemuargs"
)

// maxArgsBytes bounds how much of a qemu's /proc/<pid>/cmdline is read.
// libvirt lines run to a few KiB (longer than procstat keeps in
// Meta.Cmdline); -name and -uuid come near the start anyway.
const maxArgsBytes = 256 * 1024

// maxLabel bounds Meta.VM, a label value.
const maxLabel = 256

type hookConfig struct {
	procfs string
	log    *slog.Logger
}

// Option configures MetaHook.
type Option func(*hookConfig)

// WithProcFS sets the procfs root MetaHook re-reads command lines from
// (default "/proc").
func WithProcFS(root string) Option { return func(c *hookConfig) { c.procfs = root } }

// WithLogger sets the logger MetaHook reports each VM it finds to, at
// debug level.
func WithLogger(l *slog.Logger) Option { return func(c *hookConfig) { c.log = l } }

// MetaHook returns a procinfo.MetaHook that sets Meta.VM to the name of
// the VM a qemu process runs (see Detect), and leaves other processes
// alone.
//
// procstat's Meta.Cmdline has the NUL separators of /proc/<pid>/cmdline
// turned into spaces and is cut at 4 KiB, which loses the boundaries of an
// argument holding spaces (libvirt allows "-name guest=my vm,…"). So for a
// process that Meta says is a qemu (a cheap test on Exe and the first
// word), the hook reads <procfs>/<pid>/cmdline again, raw, and parses the
// real argument vector. Only when that read fails (the process is gone, or
// procfs is not readable) does it fall back to the joined line, split by
// qemuargs.SplitJoined: a name holding a space followed by '-' is then cut there.
func MetaHook(opts ...Option) procinfo.MetaHook {
	c := hookConfig{procfs: "/proc"}
	for _, o := range opts {
		o(&c)
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	return func(pid int, m *procinfo.Meta) {
		p := Process{PID: pid, Exe: m.Exe, Args: qemuargs.SplitJoined(m.Cmdline)}
		if !IsQemu(p) {
			return
		}
		if raw, err := ReadArgs(c.procfs, pid); err == nil && len(raw) > 0 && len(p.Args) > 0 && raw[0] == p.Args[0] {
			p.Args = raw
		}
		vm, ok := Detect(p)
		if !ok {
			return
		}
		m.VM = cleanLabel(vm.Name)
		c.log.Debug("qemu process is a vm", "pid", pid, "vm", m.VM, "kind", vm.Kind, "id", vm.ID)
	}
}

// ReadArgs reads the argument vector of process pid from
// <procfs>/<pid>/cmdline (proc(5): arguments separated and ended by NUL
// bytes), up to 256 KiB.
func ReadArgs(procfs string, pid int) ([]string, error) {
	f, err := os.Open(filepath.Join(procfs, strconv.Itoa(pid), "cmdline"))
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	b, err := io.ReadAll(io.LimitReader(f, maxArgsBytes))
	if err != nil {
		return nil, err
	}
	return ParseArgs(b), nil
}

// ParseArgs splits the contents of /proc/<pid>/cmdline into arguments.
func ParseArgs(b []byte) []string {
	b = bytes.TrimRight(b, "\x00")
	if len(b) == 0 {
		return nil
	}
	parts := bytes.Split(b, []byte{0})
	args := make([]string, len(parts))
	for i, p := range parts {
		args[i] = string(p)
	}
	return args
}

// cleanLabel makes a VM name safe as a label value: valid UTF-8, no
// control characters (each becomes U+FFFD), at most maxLabel bytes.
func cleanLabel(s string) string {
	clean := len(s) <= maxLabel
	for i := 0; i < len(s) && clean; i++ {
		if s[i] < 0x20 || s[i] >= 0x7f {
			clean = false
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if r < 0x20 || (r >= 0x7f && r <= 0x9f) {
			r = utf8.RuneError
		}
		if b.Len()+utf8.RuneLen(r) > maxLabel {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}
