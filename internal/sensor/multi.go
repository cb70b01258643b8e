package sensor

import (
	"errors"
	"strings"

	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/units"
)

// Combine returns one sensor that reads all of ss (e.g. powercap_rapl and
// gpu), in order. Their zone IDs must not collide. A read fails when any
// member fails: a partial reading would show a sudden drop in host power
// that is not real. The exception is a member that has never had a figure
// (ErrNoReadingYet, a BMC that has not answered since start): it has no
// zone to drop, so the others are read without it.
func Combine(ss ...Sensor) Sensor {
	if len(ss) == 1 {
		return ss[0]
	}
	return multi(ss)
}

type multi []Sensor

func (m multi) Name() string {
	names := make([]string, len(m))
	for i, s := range m {
		names[i] = s.Name()
	}
	return strings.Join(names, ",")
}

func (m multi) Read() (power.Reading, error) {
	var r power.Reading
	var pending error
	for _, s := range m {
		one, err := s.Read()
		if errors.Is(err, ErrNoReadingYet) {
			pending = err
			continue
		}
		if err != nil {
			return power.Reading{}, err
		}
		r.Zones = append(r.Zones, one.Zones...)
	}
	if len(r.Zones) == 0 && pending != nil {
		return power.Reading{}, pending
	}
	return r, nil
}

// IdlePower sums the members' modelled idle power; members without a
// model contribute nothing.
func (m multi) IdlePower() units.Power {
	var p units.Power
	for _, s := range m {
		if im, ok := s.(IdleModeller); ok {
			p += im.IdlePower()
		}
	}
	return p
}

// Method joins the members' methods.
func (m multi) Method() string {
	var parts []string
	for _, s := range m {
		if d, ok := s.(Describer); ok && d.Method() != "" {
			parts = append(parts, d.Method())
		}
	}
	return strings.Join(parts, "; ")
}

func (m multi) Close() error {
	var errs []error
	for _, s := range m {
		if c, ok := s.(Closer); ok {
			errs = append(errs, c.Close())
		}
	}
	return errors.Join(errs...)
}

// HasIdleModel reports whether s, or a member of it, models idle power.
func HasIdleModel(s Sensor) bool {
	if m, ok := s.(multi); ok {
		for _, x := range m {
			if HasIdleModel(x) {
				return true
			}
		}
		return false
	}
	_, ok := s.(IdleModeller)
	return ok
}

// ProcessShares merges the members' shares (zone IDs do not collide).
func (m multi) ProcessShares() map[string]power.Shares {
	var out map[string]power.Shares
	for _, s := range m {
		if ps, ok := s.(ProcessSharer); ok {
			for id, sh := range ps.ProcessShares() {
				if out == nil {
					out = map[string]power.Shares{}
				}
				out[id] = sh
			}
		}
	}
	return out
}
