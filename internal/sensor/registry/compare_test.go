package registry

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/units"
)

// steps is a sensor whose reads return the readings in turn.
type steps struct {
	name  string
	reads []power.Reading
	err   error
}

func (s *steps) Name() string { return s.name }
func (s *steps) Read() (power.Reading, error) {
	if s.err != nil {
		return power.Reading{}, s.err
	}
	r := s.reads[0]
	s.reads = s.reads[1:]
	return r, nil
}

func pkgs(ids []string, uj ...units.Energy) power.Reading {
	var r power.Reading
	for i, e := range uj {
		r.Zones = append(r.Zones, power.Zone{ID: ids[i], Kind: power.KindPackage, Energy: e, MaxRange: 262_143_328_850})
	}
	// a DRAM zone that is not compared
	r.Zones = append(r.Zones, power.Zone{ID: "dram", Kind: power.KindDRAM, Energy: uj[0] * 7})
	return r
}

func TestCompare(t *testing.T) {
	pc := []string{"intel-rapl:0", "intel-rapl:1"}
	pf := []string{"perf:package-0", "perf:package-1"}
	slept := time.Duration(0)
	sleep := func(d time.Duration) { slept += d }
	for _, tt := range []struct {
		name       string
		used, perf *steps
		agree      bool
		usedJ      units.Energy
		err        string
	}{
		{
			name:  "agree within 5 %",
			used:  &steps{name: "powercap_rapl", reads: []power.Reading{pkgs(pc, 1_000_000, 5_000_000), pkgs(pc, 3_000_000, 7_000_000)}},
			perf:  &steps{name: "perf_rapl", reads: []power.Reading{pkgs(pf, 0, 0), pkgs(pf, 2_050_000, 1_990_000)}},
			agree: true, usedJ: 4_000_000,
		},
		{
			name: "the powercap counter wraps in the window",
			used: &steps{name: "powercap_rapl", reads: []power.Reading{pkgs(pc, 262_143_000_000, 0), pkgs(pc, 1_671_150, 2_000_000)}},
			perf: &steps{name: "perf_rapl", reads: []power.Reading{pkgs(pf, 10, 10), pkgs(pf, 2_000_010, 2_000_010)}},
			// 328 850 + 1 671 150 + 2 000 000
			agree: true, usedJ: 4_000_000,
		},
		{
			name:  "disagree by 10 %",
			used:  &steps{name: "powercap_rapl", reads: []power.Reading{pkgs(pc, 0, 0), pkgs(pc, 2_000_000, 2_000_000)}},
			perf:  &steps{name: "perf_rapl", reads: []power.Reading{pkgs(pf, 0, 0), pkgs(pf, 1_800_000, 1_800_000)}},
			agree: false, usedJ: 4_000_000,
		},
		{
			name:  "idle: a few mJ apart agree",
			used:  &steps{name: "powercap_rapl", reads: []power.Reading{pkgs(pc[:1], 0), pkgs(pc[:1], 100_000)}},
			perf:  &steps{name: "perf_rapl", reads: []power.Reading{pkgs(pf[:1], 0), pkgs(pf[:1], 130_000)}},
			agree: true, usedJ: 100_000,
		},
		{
			name: "different package sets",
			used: &steps{name: "powercap_rapl", reads: []power.Reading{pkgs(pc, 0, 0), pkgs(pc, 1, 1)}},
			perf: &steps{name: "perf_rapl", reads: []power.Reading{pkgs(pf[:1], 0), pkgs(pf[:1], 1)}},
			err:  "powercap_rapl has 2 package zones, perf_rapl 1",
		},
		{
			name: "a read fails",
			used: &steps{name: "powercap_rapl", reads: []power.Reading{pkgs(pc, 0, 0)}},
			perf: &steps{name: "perf_rapl", err: errors.New("read: no such device")},
			err:  "no such device",
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := Compare(tt.used, tt.perf, CompareWindow, sleep)
			if tt.err != "" {
				if a.Err == nil || !strings.Contains(a.Err.Error(), tt.err) || !strings.Contains(a.String(), "could not be compared") {
					t.Fatalf("Compare: %+v, want error %q", a, tt.err)
				}
				return
			}
			if a.Err != nil || a.Agree != tt.agree || a.UsedJ != tt.usedJ {
				t.Fatalf("Compare = %+v, want agree %v, used %d µJ", a, tt.agree, tt.usedJ)
			}
			s := a.String()
			if !strings.Contains(s, "powercap_rapl is used, first in auto's order") || strings.Contains(s, "DISAGREE") == tt.agree {
				t.Errorf("String() = %q", s)
			}
		})
	}
	if slept != 5*CompareWindow {
		t.Errorf("slept %v, want 5 windows", slept)
	}
}
