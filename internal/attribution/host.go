package attribution

import "github.com/wattlens/wattlens/internal/sensor"

// KindPlatform is the kind of a zone that covers the rest of the machine
// at the wall (board, fans, power supply losses), as estimated by a model.
const KindPlatform = "platform"

// countsInHost reports whether zones of kind k add into host energy, given
// whether the reading has a psys zone. psys (the platform domain) already
// contains the packages, so with psys present packages and dram are left
// out; gpus are outside every RAPL domain and always add. A zone is never
// counted together with a zone that contains it.
func countsInHost(kind string, havePsys bool) bool {
	switch kind {
	case sensor.KindPsys:
		return true
	case sensor.KindGPU:
		return true
	case sensor.KindPackage, sensor.KindDRAM, KindPlatform:
		return !havePsys
	default: // core, uncore: inside a package
		return false
	}
}

func hasPsys(zones []sensor.Zone) bool {
	for _, z := range zones {
		if z.Kind == sensor.KindPsys {
			return true
		}
	}
	return false
}
