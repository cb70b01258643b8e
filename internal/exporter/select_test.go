package exporter

import (
	"regexp"
	"testing"

	"github.com/wattlens/wattlens/internal/procinfo"
)

func TestFilterRemembersOneTickOnly(t *testing.T) {
	calls := 0
	f := NewFilter(regexp.MustCompile(`a`))
	a, b := &procinfo.Meta{Exe: "a"}, &procinfo.Meta{Exe: "b"}
	tick := func(ms ...*procinfo.Meta) {
		f.next()
		for _, m := range ms {
			if _, ok := f.cur[m]; !ok {
				if _, ok := f.prev[m]; !ok {
					calls++
				}
			}
			f.match(m)
		}
	}
	tick(a, b)
	tick(a, b)
	tick(a)
	if calls != 2 || len(f.cur) != 1 || len(f.prev) != 2 {
		t.Errorf("calls %d, cur %d, prev %d", calls, len(f.cur), len(f.prev))
	}
	tick(a)
	if _, ok := f.prev[b]; ok {
		t.Error("a process gone for two ticks is still remembered")
	}
	if !f.match(a) || f.match(b) {
		t.Error("wrong answers")
	}
}
