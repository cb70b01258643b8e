package exporter

import (
	"regexp"
	"time"

	"github.com/wattlens/wattlens/internal/procinfo"
	"github.com/wattlens/wattlens/internal/snapshot"
	"github.com/wattlens/wattlens/internal/units"
)

// Selection is a snapshot's consumers the way exporters list them: the
// listed processes, then everything else the snapshot holds besides idle and
// unattributed, so that Σ Head + Rest + Idle + Unattributed = Host, for
// the interval and since start.
type Selection struct {
	// Head is the listed processes, highest interval energy first. Without
	// a filter it is a sub-slice of the snapshot's processes: read only.
	Head []snapshot.Process
	// Rest is the processes not listed and those that exited since start
	// (snapshot.TopN's rest).
	Rest snapshot.Energy
	// RestCount is the number of running processes in Rest.
	RestCount int
	// RestCPU and RestCPUTotal sum the CPU time of the running processes
	// in Rest, for the interval and since each was first seen.
	RestCPU, RestCPUTotal time.Duration
	// Matched is the number of processes the filter kept (all of them
	// without a filter).
	Matched int
}

// Select lists the first n processes of s (all when n <= 0) that f keeps
// (every process when f is nil) and sums the rest.
func Select(s *snapshot.Snapshot, n int, f *Filter) Selection {
	if f == nil {
		head, rest, count := s.TopN(n)
		sel := Selection{Head: head, Rest: rest, RestCount: count, Matched: len(s.Processes)}
		for _, p := range s.Processes[len(head):] {
			sel.RestCPU += p.CPUDelta
			sel.RestCPUTotal += p.CPUTotal
		}
		return sel
	}
	f.next()
	sel := Selection{Rest: snapshot.Energy{Source: s.Host.Source}}
	for _, p := range s.Processes {
		if f.match(p.Meta) {
			sel.Matched++
			if n <= 0 || len(sel.Head) < n {
				sel.Head = append(sel.Head, p)
				continue
			}
		}
		sel.Rest.Total += p.Total
		sel.Rest.Delta += p.Delta
		sel.RestCPU += p.CPUDelta
		sel.RestCPUTotal += p.CPUTotal
		sel.RestCount++
	}
	// What TopN adds besides the processes: the exited ones.
	sel.Rest.Total += s.Exited
	sel.Rest.Power = units.PowerOf(sel.Rest.Delta, s.Interval)
	return sel
}

// Filter keeps the processes whose executable path or command line
// matches a regular expression. A process's metadata (procinfo.Meta) is
// never modified: it is read when the process is first seen and read
// again, as a new Meta, after the process execs. So the answer is
// remembered per Meta for as long as it is seen, and forgotten one tick
// after it is gone or replaced; an exec is matched afresh. A Filter is not safe
// for concurrent use: each exporter owns one.
type Filter struct {
	re        *regexp.Regexp
	cur, prev map[*procinfo.Meta]bool
	// fn, for a filter from NewFuncFilter, is asked once per tick and
	// process instead of re: what it reads may change while the Meta
	// does not (container names arrive after a process is first seen).
	fn   func(*procinfo.Meta) bool
	desc string
}

// NewFuncFilter returns a filter that keeps the processes fn keeps,
// asking fn afresh at every tick; desc is its String.
func NewFuncFilter(desc string, fn func(*procinfo.Meta) bool) *Filter {
	return &Filter{fn: fn, desc: desc, cur: map[*procinfo.Meta]bool{}, prev: map[*procinfo.Meta]bool{}}
}

// NewFilter returns a filter on re.
func NewFilter(re *regexp.Regexp) *Filter {
	return &Filter{re: re, cur: map[*procinfo.Meta]bool{}, prev: map[*procinfo.Meta]bool{}}
}

// String returns the regular expression.
func (f *Filter) String() string {
	if f.fn != nil {
		return f.desc
	}
	return f.re.String()
}

// Match reports whether the process described by m is kept. A process
// with no metadata matches only what an empty string matches.
func (f *Filter) Match(m *procinfo.Meta) bool {
	if f.fn != nil {
		return f.fn(m)
	}
	if m == nil {
		return f.re.MatchString("")
	}
	return f.re.MatchString(m.Exe) || f.re.MatchString(m.Cmdline)
}

// next starts a tick: what was looked up during the previous tick is kept
// one more tick, the rest is forgotten.
func (f *Filter) next() {
	f.prev, f.cur = f.cur, f.prev
	clear(f.cur)
}

func (f *Filter) match(m *procinfo.Meta) bool {
	if ok, seen := f.cur[m]; seen {
		return ok
	}
	ok, seen := f.prev[m]
	if !seen || f.fn != nil {
		ok = f.Match(m)
	}
	f.cur[m] = ok
	return ok
}
