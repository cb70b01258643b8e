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
	psys  bool // a psys or wall zone is present
	wall  bool // and it is a wall meter
	meter bool // a sensor.KindWall zone is present (a BMC)
}

// countsInHost reports whether zones of kind k add into host energy. A
// KindWall zone (a BMC's meter) holds everything else, psys included, so
// with one present it alone is the host and every other zone is a part of
// it. psys (the platform domain) already contains the packages, so with
// psys present packages and dram are left out; gpus are outside every RAPL
// domain and add, unless psys is a wall meter, which holds them already.
// A zone is never counted together with a zone that contains it.
func countsInHost(kind string, v hostView) bool {
	havePsys := v.psys
	switch kind {
	case sensor.KindWall:
		return true
	case sensor.KindPsys:
		return !v.meter
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
		switch z.Kind {
		case sensor.KindPsys:
			v.psys = true
			v.wall = v.wall || strings.HasPrefix(z.Name, WallMeterName)
		case sensor.KindWall:
			v.psys, v.wall, v.meter = true, true, true
		}
	}
	return v
}
