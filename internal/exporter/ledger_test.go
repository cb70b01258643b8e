package exporter

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wattlens/wattlens/internal/procinfo"
	"github.com/wattlens/wattlens/internal/snapshot"
	"github.com/wattlens/wattlens/internal/units"
)

// TestLedgerClosedIntoOther follows two processes through a top 1: the
// series of the one exposed starts from what it drew since it entered,
// the part it had before stays in other, a process that leaves goes back
// to other whole, an exec relabels without restarting, and at every tick
// the series, other, unattributed and idle make the host exactly, with
// other never going down.
func TestLedgerClosedIntoOther(t *testing.T) {
	a := &procinfo.Meta{Comm: "a"}
	b := &procinfo.Meta{Comm: "b"}
	aExec := &procinfo.Meta{Comm: "a2"}
	proc := func(pid int, m *procinfo.Meta, total, delta units.Energy) snapshot.Process {
		return snapshot.Process{Key: procinfo.Key{PID: pid, StartTime: 1}, Meta: m, Energy: snapshot.Energy{Total: total, Delta: delta}}
	}
	built := 0
	l := NewLedger(func(p *snapshot.Process) string { built++; return p.Comm })
	type want struct {
		labels []string
		series []units.Energy
		other  units.Energy
		built  int
	}
	steps := []struct {
		name        string
		procs       []snapshot.Process
		top         int // index of the process in the top 1
		idle, unatt units.Energy
		want        want
	}{
		{"b leads; a drew nothing yet", []snapshot.Process{proc(1, a, 0, 0), proc(2, b, 10, 10)}, 1, 5, 1,
			want{[]string{"b"}, []units.Energy{10}, 0, 1}},
		{"a takes the lead with 30 drawn: 0 of it before it entered was in other", []snapshot.Process{proc(1, a, 30, 30), proc(2, b, 12, 2)}, 0, 7, 1,
			want{[]string{"a"}, []units.Energy{30}, 12, 2}},
		{"a execs: same total, new labels", []snapshot.Process{proc(1, aExec, 40, 10), proc(2, b, 13, 1)}, 0, 9, 2,
			want{[]string{"a2"}, []units.Energy{40}, 13, 3}},
		{"b is back on top: its 13 of before stay in other", []snapshot.Process{proc(1, aExec, 41, 1), proc(2, b, 33, 20)}, 1, 10, 2,
			want{[]string{"b"}, []units.Energy{20}, 41 + 13, 4}},
		{"a top entrant that drew nothing stays in other", []snapshot.Process{proc(1, aExec, 41, 0), proc(2, b, 33, 0)}, 0, 11, 2,
			want{nil, []units.Energy{}, 41 + 33, 4}},
	}
	var lastOther units.Energy
	for _, st := range steps {
		host := st.idle + st.unatt
		for _, p := range st.procs {
			host += p.Total
		}
		s := &snapshot.Snapshot{Host: snapshot.Energy{Total: host}, Idle: snapshot.Energy{Total: st.idle}, Unattributed: snapshot.Energy{Total: st.unatt}, Processes: st.procs}
		series, other := l.Record(s, st.procs[st.top:st.top+1])
		var got want
		got.series = []units.Energy{}
		sum := units.Energy(0)
		for _, x := range series {
			got.labels = append(got.labels, *x.Labels)
			got.series = append(got.series, x.Energy)
			sum += x.Energy
		}
		got.other, got.built = other, built
		if diff := cmp.Diff(st.want, got, cmp.AllowUnexported(want{})); diff != "" {
			t.Errorf("%s (-want +got):\n%s", st.name, diff)
		}
		if sum+other+st.idle+st.unatt != host {
			t.Errorf("%s: series %d + other %d + idle %d + unattributed %d != host %d", st.name, sum, other, st.idle, st.unatt, host)
		}
		if other < lastOther {
			t.Errorf("%s: other went down from %d to %d", st.name, lastOther, other)
		}
		lastOther = other
	}
}

// TestLedgerRelabelLeavesEarlierSeries: an exec relabels a process's
// series in a new entry; the series an earlier Record returned (which a
// scrape may still be reading, on another goroutine) keep their labels.
func TestLedgerRelabelLeavesEarlierSeries(t *testing.T) {
	l := NewLedger(func(p *snapshot.Process) string { return p.Comm })
	tick := func(m *procinfo.Meta, total units.Energy) []Series[string] {
		procs := []snapshot.Process{{Key: procinfo.Key{PID: 1, StartTime: 1}, Meta: m, Energy: snapshot.Energy{Total: total, Delta: 10}}}
		s := &snapshot.Snapshot{Host: snapshot.Energy{Total: total}, Processes: procs}
		series, _ := l.Record(s, procs)
		return series
	}
	before := tick(&procinfo.Meta{Comm: "sh"}, 10)
	after := tick(&procinfo.Meta{Comm: "make"}, 20)
	if len(before) != 1 || len(after) != 1 {
		t.Fatalf("series: %d then %d, want 1 each", len(before), len(after))
	}
	if *before[0].Labels != "sh" || *after[0].Labels != "make" {
		t.Errorf("labels before the exec %q, after %q; want sh (unchanged) and make", *before[0].Labels, *after[0].Labels)
	}
	if after[0].Energy != 20 {
		t.Errorf("the relabelled series is at %v, want 20: it goes on from the same total", after[0].Energy)
	}
}
