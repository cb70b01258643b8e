package exporter

import (
	"fmt"
	"strings"

	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/snapshot"
)

// RestResources is, by resource, what s holds beyond idle, unattributed
// and the listed processes head: the rest (Selection.Rest) split by
// resource. It is exact because every account's resources add up to it
// and, per resource, Σ processes + exited + unattributed + idle = host.
func RestResources(s *snapshot.Snapshot, head []snapshot.Process) snapshot.Resources {
	hr := s.Resources
	var out snapshot.Resources
	for i := range out.Delta {
		out.Delta[i] = hr.Host.Delta[i] - hr.Idle.Delta[i] - hr.Unattributed.Delta[i]
		out.Total[i] = hr.Host.Total[i] - hr.Idle.Total[i] - hr.Unattributed.Total[i]
		for _, p := range head {
			out.Delta[i] -= min(p.Resources.Delta[i], out.Delta[i])
			out.Total[i] -= min(p.Resources.Total[i], out.Total[i])
		}
	}
	return out
}

// shortNames are the resources' names in a table cell.
var shortNames = [power.NumResources]string{"cpu", "mem", "disk", "net", "gpu", "plat"}

// ResourceShares writes an interval's split as the shares of its
// resources that hold at least 1 % of it, largest first: "storage 72 %,
// cpu 20 %, memory 8 %", or with short "disk 72% cpu 20% mem 8%" for a
// table cell; "" when it holds nothing.
func ResourceShares(e snapshot.ResourceEnergy, short bool) string {
	sum := e.Sum()
	if sum == 0 {
		return ""
	}
	type part struct {
		name string
		pct  float64
	}
	var parts []part
	for i, v := range e {
		if pct := 100 * float64(v) / float64(sum); pct >= 1 {
			name := string(power.Resources[i])
			if short {
				name = shortNames[i]
			}
			parts = append(parts, part{name, pct})
		}
	}
	for i := 1; i < len(parts); i++ { // a handful: insertion sort, stable
		for j := i; j > 0 && parts[j].pct > parts[j-1].pct; j-- {
			parts[j], parts[j-1] = parts[j-1], parts[j]
		}
	}
	out := make([]string, len(parts))
	for i, p := range parts {
		if short {
			out[i] = fmt.Sprintf("%s %.0f%%", p.name, p.pct)
		} else {
			out[i] = fmt.Sprintf("%s %.0f %%", p.name, p.pct)
		}
	}
	if short {
		return strings.Join(out, " ")
	}
	return strings.Join(out, ", ")
}
