//go:build !cgo

package gpu

import (
	"fmt"

	"github.com/wattlens/wattlens/internal/sensor"
)

// New returns sensor.ErrUnavailable: the NVML binding needs cgo.
func New(sensor.Options) (sensor.Sensor, error) {
	return nil, fmt.Errorf("%w: built without cgo (the NVML binding needs it)", sensor.ErrUnavailable)
}
