package attribution

import "github.com/wattlens/wattlens/internal/units"

// Idle baseline origins, as shown in snapshots.
const (
	IdleFromFlag  = "flag"     // --idle-power
	IdleFromModel = "model"    // the estimate sensor's model
	IdleLearned   = "learned"  // the lowest power seen at low utilisation
	IdleLearning  = "learning" // no low-utilisation interval seen yet: 0
)

// learnUtilisation is the utilisation at or below which an interval's power
// is taken as a candidate for the idle baseline.
const learnUtilisation = 0.10

// idleLearner learns the idle baseline online: the lowest host power seen
// over intervals whose CPU utilisation was at most learnUtilisation. Until
// such an interval is seen the baseline is 0 and every joule is active.
type idleLearner struct {
	min  units.Power
	seen bool
}

func (l *idleLearner) observe(p units.Power, utilisation float64) {
	if utilisation > learnUtilisation {
		return
	}
	if !l.seen || p < l.min {
		l.min, l.seen = p, true
	}
}

func (l *idleLearner) baseline() (units.Power, string) {
	if !l.seen {
		return 0, IdleLearning
	}
	return l.min, IdleLearned
}
