package stdout

import (
	"bytes"
	"fmt"
	"strconv"

	"github.com/wattlens/wattlens/internal/container"
	"github.com/wattlens/wattlens/internal/snapshot"
	"github.com/wattlens/wattlens/internal/units"
)

// Widths of the container cells.
const (
	maxContainer = 32 // the container column of the process table
	shortID      = 12 // a container ID as docker ps shows it
)

// containerOf returns the workload of a process in a container, or nil.
func containerOf(workload any) *container.Workload {
	w := container.WorkloadOf(workload)
	if w == nil || w.Kind != container.KindContainer {
		return nil
	}
	return w
}

// containerLabel names a container for a person: "pod/name" for a pod's
// container, "name" otherwise, "" when no name is known (yet); names
// known now (names) win over those known when it was first seen.
func containerLabel(w *container.Workload, names container.NameFunc) string {
	name, pod, _ := w.CurrentNames(names)
	if name == "" && pod == "" {
		return ""
	}
	if name == "" {
		name = short(w.ID)
	}
	if pod != "" {
		name = pod + "/" + name
	}
	return Sanitize(name)
}

// containerCell is the container column of a process: its name, the
// short ID while it has none, empty for a process in no container.
func containerCell(workload any, names container.NameFunc) string {
	w := containerOf(workload)
	if w == nil {
		return ""
	}
	label := containerLabel(w, names)
	if label == "" {
		label = short(w.ID)
	}
	return truncate(label, maxContainer)
}

func short(id string) string {
	if len(id) > shortID {
		return id[:shortID]
	}
	return id
}

// containerView lists the top containers by power (opts.Processes of
// them; all when 0) and one line for everything else besides idle, so
// that the lines and idle add up to the host, now and since start.
func containerView(b *bytes.Buffer, s *snapshot.Snapshot, opts Options, width int) {
	var all []snapshot.Group
	for _, g := range s.Groups {
		if g.Kind == container.GroupContainer {
			all = append(all, g) // sorted by interval energy already
		}
	}
	head := all
	if opts.Processes > 0 && opts.Processes < len(all) {
		head = all[:opts.Processes]
	}
	b.WriteByte('\n')
	switch {
	case len(all) == 0:
		b.WriteString("No containers\n")
		return
	case len(head) == len(all):
		fmt.Fprintf(b, "All %d containers\n", len(all))
	default:
		fmt.Fprintf(b, "Top %d of %d containers\n", len(head), len(all))
	}
	t := table{right: []bool{true, true, true, false, false, false}}
	t.add("power", "since start", "procs", "runtime", "id", "container")
	var listed snapshot.Energy
	for _, g := range head {
		var runtime, label string
		if w := containerOf(g.Workload); w != nil {
			runtime, label = w.Runtime, containerLabel(w, opts.Names)
		}
		t.add(formatPower(g.Power), formatEnergy(g.Total), strconv.Itoa(g.Processes),
			orDash(Sanitize(runtime)), Sanitize(short(g.ID)), orDash(label))
		listed.Delta += g.Delta
		listed.Total += g.Total
	}
	restDelta := sub(s.Host.Delta, s.Idle.Delta, listed.Delta)
	restTotal := sub(s.Host.Total, s.Idle.Total, listed.Total)
	t.add(formatPower(units.PowerOf(restDelta, s.Interval)), formatEnergy(restTotal), "-", "", "", restContainers(len(all)-len(head)))
	t.write(b, "", width)
}

// sub returns a − b − c, or 0 should it be negative (it cannot be while
// the snapshot's sums balance).
func sub(a, b, c units.Energy) units.Energy {
	if b+c > a {
		return 0
	}
	return a - b - c
}

func restContainers(n int) string {
	switch n {
	case 0:
		return "processes in no container, exited ones, unattributed energy"
	case 1:
		return "1 more container, processes in none, exited ones, unattributed energy"
	}
	return fmt.Sprintf("%d more containers, processes in none, exited ones, unattributed energy", n)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
