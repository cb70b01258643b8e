// Package stdout is the stdout exporter: at each tick it prints the host's
// power and where the figure comes from, the idle baseline, every zone,
// and the top consumers, in aligned columns for a person to read; with
// Options.Containers, each process's container and the top containers.
//
// When standard output is a terminal the screen is cleared before each
// refresh and lines are cut to the terminal's width; otherwise (a pipe, a
// file) no escape code is ever written, refreshes follow one another
// separated by a blank line, and lines are cut to Options.Width. Whatever
// a process calls itself is passed through Sanitize first.
package stdout

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/wattlens/wattlens/internal/container"
	"github.com/wattlens/wattlens/internal/exporter"
	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/procinfo"
	"github.com/wattlens/wattlens/internal/snapshot"
)

// DefaultWidth is the line width when standard output is not a terminal.
const DefaultWidth = 160

// clearScreen moves the cursor home and clears the screen (ECMA-48 CUP
// and ED); written only to terminals.
const clearScreen = "\x1b[H\x1b[2J"

// Options choose what is printed.
type Options struct {
	// Processes is the number of consumers listed; 0 or less lists all.
	Processes int
	// Filter, when set, lists only the processes it keeps (the regex on
	// exe and cmdline); the others are summed with the rest.
	Filter *exporter.Filter
	// Width is the line width when the output is not a terminal; 0 means
	// DefaultWidth. On a terminal its own width is used.
	Width int
	// Containers adds a container column to the process table and the
	// top containers by power after it (containers.go).
	Containers bool
	// Names, when set, gives the names of a container ID as known now
	// (container.Enricher.Name); without it the names known when the
	// process was first seen are shown.
	Names container.NameFunc
}

// Exporter prints one report per snapshot.
type Exporter struct {
	w    io.Writer
	opts Options
	// term is the terminal's file descriptor, or -1 when w is not one.
	term    int
	buf     bytes.Buffer
	written bool // a report has been written
	// method is the estimate's method line last printed: it is long
	// (hundreds of characters), so it is printed with the first report
	// and again only when it changes.
	method string
}

// New returns an exporter printing to w. w is a terminal when it has a
// file descriptor (an *os.File) that is one.
func New(w io.Writer, opts Options) *Exporter {
	x := &Exporter{w: w, opts: opts, term: -1}
	if fd, ok := terminalFD(w); ok {
		x.term = fd
	}
	return x
}

// Export implements exporter.Exporter: one report, in one Write.
func (x *Exporter) Export(_ context.Context, s *snapshot.Snapshot) error {
	x.buf.Reset()
	width := x.opts.Width
	if x.term >= 0 {
		x.buf.WriteString(clearScreen)
		if w, ok := terminalWidth(x.term); ok {
			width = w
		}
	} else if x.written {
		x.buf.WriteByte('\n') // a blank line between reports
	}
	showMethod := s.Method != x.method
	render(&x.buf, s, x.opts, width, showMethod)
	if showMethod && s.SensorUp && s.Host.Source == power.Estimated {
		x.method = s.Method
	}
	x.written = true
	if _, err := x.w.Write(x.buf.Bytes()); err != nil {
		return fmt.Errorf("stdout: %w", err)
	}
	return nil
}

// Render writes the report of s to w as for a file or pipe: no escape
// codes, lines cut to opts.Width.
func Render(w io.Writer, s *snapshot.Snapshot, opts Options) error {
	var b bytes.Buffer
	render(&b, s, opts, opts.Width, true)
	_, err := w.Write(b.Bytes())
	return err
}

func render(b *bytes.Buffer, s *snapshot.Snapshot, opts Options, width int, showMethod bool) {
	if width <= 0 {
		width = DefaultWidth
	}
	header(b, s)
	if !s.SensorUp {
		fmt.Fprintf(b, "SENSOR DOWN: %s\n", Sanitize(orUnknown(s.SensorError)))
		b.WriteString("No figures until it recovers; the next good reading covers the gap, so no energy is lost.\n")
		return
	}
	energyTable(b, s, width)
	if s.Host.Source == power.Estimated && s.Method != "" {
		if showMethod {
			fmt.Fprintf(b, "Estimated: %s\n", Sanitize(s.Method))
		} else {
			b.WriteString("Estimated: the method is in the first report\n")
		}
	}
	fmt.Fprintf(b, "CPU %.1f %% busy on %d CPUs; %d processes", 100*s.Utilisation, s.CPUs, s.Stats.Processes)
	if s.Stats.Skipped > 0 {
		fmt.Fprintf(b, ", %d skipped", s.Stats.Skipped)
	}
	if c, ok := s.CPU.Coverage(); ok {
		fmt.Fprintf(b, ", holding %.0f %% of the busy time", 100*c)
	}
	b.WriteString("\n\n")
	consumers(b, s, opts, width)
	if opts.Containers {
		containerView(b, s, opts, width)
	}
}

func header(b *bytes.Buffer, s *snapshot.Snapshot) {
	fmt.Fprintf(b, "wattlens · %s · %s", Sanitize(orUnknown(s.Sensor)), s.Time.Format("2006-01-02 15:04:05 MST"))
	if s.Seq > 0 {
		fmt.Fprintf(b, " · tick %d, %.2f s", s.Seq, s.Interval.Seconds())
	}
	b.WriteString("\n\n")
}

// energyTable writes host, idle and every zone with their power, energy
// this interval and since start, and where each comes from.
func energyTable(b *bytes.Buffer, s *snapshot.Snapshot, width int) {
	t := table{right: []bool{false, false, true, true, true, false}}
	t.add("", "", "power", "interval", "since start", "source")
	t.add("host", "", formatPower(s.Host.Power), formatEnergy(s.Host.Delta), formatEnergy(s.Host.Total),
		string(s.Host.Source)+" by "+Sanitize(s.Sensor))
	t.add("idle", "", formatPower(s.Idle.Power), formatEnergy(s.Idle.Delta), formatEnergy(s.Idle.Total), idleSource(s))
	for _, z := range s.Zones {
		socket := ""
		if z.Socket >= 0 {
			socket = "socket " + strconv.Itoa(z.Socket)
		}
		t.add(socket, zoneName(z), formatPower(z.Power), formatEnergy(z.Delta), formatEnergy(z.Total), string(z.Source))
	}
	t.write(b, "", width)
	if split := exporter.ResourceShares(s.Resources.Host.Delta, false); split != "" {
		fmt.Fprintf(b, "By resource: %s\n", split)
	}
	b.WriteByte('\n')
}

// idleSource says what the idle baseline is and where it comes from.
func idleSource(s *snapshot.Snapshot) string {
	var src string
	switch s.IdleOrigin {
	case "flag":
		src = "baseline " + formatPower(s.IdlePower) + " from --idle-power"
	case "model":
		src = "baseline " + formatPower(s.IdlePower) + " from the model"
	case "learned":
		src = "baseline " + formatPower(s.IdlePower) + " learned"
	case "fitted":
		src = "baseline " + formatPower(s.IdlePower) + " fitted (host never quiet: the intercept of its power against its activity)"
	case "learning", "":
		src = "baseline not learned yet: all energy counts as active"
	default:
		src = "baseline " + formatPower(s.IdlePower) + " " + Sanitize(s.IdleOrigin)
	}
	if s.IdlePolicy == snapshot.IdleShared {
		src = "shared out among processes; " + src
	}
	return src
}

// zoneName is the zone's name, with its kind when the name does not say it.
func zoneName(z snapshot.Zone) string {
	name, kind := Sanitize(z.Name), Sanitize(z.Kind)
	switch {
	case name == "":
		return kind
	case strings.Contains(name, kind):
		return name
	}
	return name + " (" + kind + ")"
}

// Widths of the consumer columns that a process chooses: the executable
// gets a quarter of the line, within [minExe, maxExe].
const (
	minExe  = 12
	maxExe  = 40
	maxKind = 24
)

func consumers(b *bytes.Buffer, s *snapshot.Snapshot, opts Options, width int) {
	sel := exporter.Select(s, opts.Processes, opts.Filter)
	switch {
	case opts.Filter != nil:
		fmt.Fprintf(b, "Top %d of %d processes matching /%s/ (of %d)\n", len(sel.Head), sel.Matched,
			Sanitize(opts.Filter.String()), len(s.Processes))
	case len(sel.Head) == len(s.Processes):
		fmt.Fprintf(b, "All %d processes\n", len(s.Processes))
	default:
		fmt.Fprintf(b, "Top %d of %d processes\n", len(sel.Head), len(s.Processes))
	}
	exeWidth := min(max(width/4, minExe), maxExe)
	t := table{right: []bool{true, false, true, false, false, false}}
	// add adds a row, with the container column third when shown.
	add := func(container string, cells ...string) {
		if opts.Containers {
			cells = slices.Insert(cells, 4, container)
		}
		t.add(cells...)
	}
	if opts.Containers {
		t.right = append(t.right, false)
	}
	add("container", "power", "by resource", "pid", "kind", "exe", "cmdline")
	for _, p := range sel.Head {
		m := p.Meta
		if m == nil {
			m = &procinfo.Meta{}
		}
		kind := "process"
		if m.VM != "" {
			kind = "vm " + truncate(Sanitize(m.VM), maxKind-3)
		}
		exe := truncateLeft(Sanitize(m.Exe), exeWidth)
		switch {
		case m.Exe == "" && m.Cmdline == "":
			// A kernel thread (no executable, no command line): ps's
			// [name] form.
			exe = "[" + truncate(Sanitize(m.Comm), exeWidth-2) + "]"
		case m.Exe == "":
			exe = truncate(Sanitize(m.Comm), exeWidth) // executable unreadable (another user's): its name
		}
		add(containerCell(m.Workload, opts.Names), formatPower(p.Power), exporter.ResourceShares(p.Resources.Delta, true), strconv.Itoa(p.PID), kind, exe, Sanitize(m.Cmdline))
	}
	add("", formatPower(s.Unattributed.Power), exporter.ResourceShares(s.Resources.Unattributed.Delta, true), "-", "unattributed", "", "busy CPU time no readable process holds")
	add("", formatPower(sel.Rest.Power), exporter.ResourceShares(exporter.RestResources(s, sel.Head).Delta, true), "-", "others", "", restText(sel))
	t.write(b, "", width)
}

func restText(sel exporter.Selection) string {
	switch sel.RestCount {
	case 0:
		return "exited processes"
	case 1:
		return "1 more process, exited ones"
	}
	return fmt.Sprintf("%d more processes, exited ones", sel.RestCount)
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
