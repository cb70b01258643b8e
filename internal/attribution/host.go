package attribution

import (
	"strings"

	"github.com/wattlens/wattlens/internal/sensor"
)

// KindPlatform is the kind of a zone that covers the rest of the machine
// at the wall (board, fans, power supply losses), as estimated by a model.
const KindPlatform = "platform"

// WallMeterName starts the Name of a psys zone that measures the whole machine
// at its power input (an ACPI power meter read through hwmon): it contains
// the GPUs too.
const WallMeterName = "power_meter"

// hostView says which zones of a reading make up the host.
type hostView struct {
	psys bool // a psys zone is present
	wall bool // and it is a wall meter
}

// countsInHost reports whether zones of kind k add into host energy. psys
// (the platform domain) already contains the packages, so with psys
// present packages and dram are left out; gpus are outside every RAPL
// domain and add, unless psys is a wall meter, which holds them already.
// A zone is never counted together with a zone that contains it.
func countsInHost(kind string, v hostView) bool {
	havePsys := v.psys
	switch kind {
	case sensor.KindPsys:
		return true
	case sensor.KindGPU:
		return !v.wall
	case sensor.KindPackage, sensor.KindDRAM, KindPlatform:
		return !havePsys
	default: // core, uncore: inside a package
		return false
	}
}

func viewOf(zones []sensor.Zone) hostView {
	var v hostView
	for _, z := range zones {
		if z.Kind == sensor.KindPsys {
			v.psys = true
			v.wall = v.wall || strings.HasPrefix(z.Name, WallMeterName)
		}
	}
	return v
}
