package promexp

import (
	"path/filepath"
	"regexp"

	"github.com/wattlens/wattlens/internal/procinfo"
	"github.com/wattlens/wattlens/internal/snapshot"
	"github.com/wattlens/wattlens/internal/units"
)

// DefaultIncludeMax bounds the processes --process.include-regex adds
// beyond the top N.
const DefaultIncludeMax = 50

// includer picks the processes a user names (--process.include-regex)
// for series of their own beyond the top N, quiet or not: Scaphandre
// exports every process, so its dashboards chart processes by name
// (exe="dockerd") whatever they draw. At most max are added per step, the
// highest energy first, so the regex cannot make cardinality unbounded.
//
// A process matches when the regex matches its executable's base name
// (Scaphandre's exe label; comm for a process without a readable exe),
// its executable's path, its comm or its command line. The answer is
// remembered per Meta (a new Meta comes with an exec) while the process
// is seen.
type includer struct {
	re        *regexp.Regexp
	max       int
	cur, prev map[*procinfo.Meta]bool
}

func newIncluder(re *regexp.Regexp, max int) *includer {
	if re == nil {
		return nil
	}
	if max <= 0 {
		max = DefaultIncludeMax
	}
	return &includer{re: re, max: max, cur: map[*procinfo.Meta]bool{}, prev: map[*procinfo.Meta]bool{}}
}

// next starts a step: what was looked up in the previous one is kept one
// more step.
func (in *includer) next() {
	in.prev, in.cur = in.cur, in.prev
	clear(in.cur)
}

func (in *includer) match(m *procinfo.Meta) bool {
	if in == nil || m == nil {
		return false
	}
	if ok, seen := in.cur[m]; seen {
		return ok
	}
	ok, seen := in.prev[m]
	if !seen {
		name := m.Comm
		if m.Exe != "" {
			name = filepath.Base(m.Exe)
		}
		ok = in.re.MatchString(name) || in.re.MatchString(m.Exe) || in.re.MatchString(m.Comm) || in.re.MatchString(m.Cmdline)
	}
	in.cur[m] = ok
	return ok
}

// keep is the exporter.Ledger's Keep: an included process enters the
// exposed set even in a step in which it drew no energy.
func (in *includer) keep(p *snapshot.Process) bool { return in.match(p.Meta) }

// selectHead returns the top n processes of s (all for n <= 0) and, with
// an includer, up to its max further processes it matches, in s's order
// (highest energy first); rest sums everything else besides idle and
// unattributed, as snapshot.TopN's rest does.
func selectHead(s *snapshot.Snapshot, n int, in *includer) (head []snapshot.Process, rest snapshot.Energy) {
	if in == nil {
		head, rest, _ = s.TopN(n)
		return head, rest
	}
	in.next()
	if n <= 0 || n >= len(s.Processes) {
		return s.Processes, snapshot.Energy{Source: s.Host.Source, Total: s.Exited}
	}
	head = make([]snapshot.Process, n, n+in.max)
	copy(head, s.Processes[:n])
	rest = snapshot.Energy{Source: s.Host.Source, Total: s.Exited}
	added := 0
	for i := n; i < len(s.Processes); i++ {
		p := &s.Processes[i]
		if added < in.max && in.match(p.Meta) {
			head = append(head, *p)
			added++
			continue
		}
		rest.Total += p.Total
		rest.Delta += p.Delta
	}
	if s.Interval > 0 {
		rest.Power = units.PowerOf(rest.Delta, s.Interval)
	}
	return head, rest
}
