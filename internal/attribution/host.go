package attribution

import "github.com/wattlens/wattlens/internal/power"

// hostView says which zones of a reading make up the host.
type hostView struct {
	psys  bool // a psys or wall zone is present
	wall  bool // a zone at the wall is present (power.Zone.AtWall)
	meter bool // a power.KindWall zone is present (a BMC)
}

// countsInHost reports whether zones of kind k add into host energy. A
// KindWall zone (a BMC's meter) holds everything else, psys included, so
// with one present it alone is the host and every other zone is a part of
// it. psys (the platform domain) already contains the packages, so with
// psys present packages and dram are left out; gpus are outside every RAPL
// domain and add, unless a zone is at the wall, which holds them already.
// A zone is never counted together with a zone that contains it.
func countsInHost(kind string, v hostView) bool {
	havePsys := v.psys
	switch kind {
	case power.KindWall:
		return true
	case power.KindPsys:
		return !v.meter
	case power.KindGPU:
		return !v.wall
	case power.KindPackage, power.KindDRAM, power.KindPlatform,
		power.KindStorage, power.KindNetwork: // estimated devices add like platform
		return !havePsys
	default: // core, uncore: inside a package
		return false
	}
}

func viewOf(zones []power.Zone) hostView {
	var v hostView
	for _, z := range zones {
		switch z.Kind {
		case power.KindPsys:
			v.psys = true
		case power.KindWall:
			v.psys, v.meter = true, true
		}
		v.wall = v.wall || z.AtWall()
	}
	return v
}
