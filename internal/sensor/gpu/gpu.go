// Package gpu is the gpu sensor: NVIDIA GPUs through NVML
// (github.com/NVIDIA/go-nvml, which dlopens libnvidia-ml.so.1 at run time).
//
// Per device it reports one zone "gpu:<index>" (NVML index; Zone.Name is
// the GPU's UUID), KindGPU, Socket -1, Source measured:
//   - nvmlDeviceGetTotalEnergyConsumption (mJ since the driver was last
//     loaded; Volta and newer) where supported, reported ×1000 as µJ with
//     MaxRange 0: it is a 64-bit counter, and going backwards means the
//     driver reloaded (a reset);
//   - else nvmlDeviceGetPowerUsage (mW) integrated over time by the
//     trapezoid rule into a cumulative µJ counter;
//   - else, where the GPU reports utilisation (nvmlDeviceGetUtilizationRates)
//     and a power limit (nvmlDeviceGetPowerManagementLimit, else the
//     enforced, else the default limit), an estimate integrated the same
//     way: the limit × the CPU model's default curve at that utilisation
//     (see curve), Source estimated, and Method says so.
//
// Per-process use comes from nvmlDeviceGetProcessUtilization; see
// ProcessSharer.
//
// The NVML binding needs cgo: built with CGO_ENABLED=0, New returns
// sensor.ErrUnavailable.
package gpu

import (
	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/sensor"
)

// Name is the sensor's registry name.
const Name = "gpu"

// Shares maps a PID to its share of one GPU's energy over an interval
// (see power.Shares). The gpu sensor implements sensor.ProcessSharer:
// each PID's share is its SM utilisation summed over NVML's samples in the
// interval, divided by the sum over all PIDs. A GPU whose driver does not
// report per-process utilisation (nvmlDeviceGetProcessUtilization
// unsupported, or failing this interval) is absent from the map. PIDs are
// as NVML reports them: the host's PID namespace. NVML's samples cannot
// give absolute utilisation (it reports only processes that ran, not how
// many sample periods passed idle), so the shares are relative.
type Shares = power.Shares

// ProcessSharer is sensor.ProcessSharer.
type ProcessSharer = sensor.ProcessSharer

// utilSample is the part of nvml.ProcessUtilizationSample the share
// arithmetic uses.
type utilSample struct {
	pid int
	ts  uint64 // µs, CPU clock
	sm  uint32 // SM utilisation, percent of the sample period
}

// sharesOf computes one device's shares from the samples newer than
// after, and returns the newest timestamp seen (after when none is newer).
func sharesOf(samples []utilSample, after uint64) (Shares, uint64) {
	sum := map[int]uint64{}
	var total uint64
	last := after
	for _, s := range samples {
		if s.ts <= after {
			continue
		}
		last = max(last, s.ts)
		if s.sm == 0 {
			continue
		}
		sum[s.pid] += uint64(s.sm)
		total += uint64(s.sm)
	}
	shares := Shares{}
	for pid, u := range sum {
		shares[pid] = float64(u) / float64(total)
	}
	return shares, last
}
