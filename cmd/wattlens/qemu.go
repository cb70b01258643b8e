package main

import (
	"context"
	"fmt"

	"github.com/alecthomas/kingpin/v2"

	"github.com/wattlens/wattlens/internal/exporter/qemu"
	"github.com/wattlens/wattlens/internal/units"
)

// defaultQemuDir is where the qemu exporter writes unless told otherwise.
const defaultQemuDir = "/var/lib/wattlens/vms"

// setupQemu declares the qemu command: on a hypervisor, find each
// qemu/KVM guest (vmdetect), book its process's energy, and write it into
// a powercap-shaped share per guest below --qemu.dir (exporter/qemu), for
// the guest's `wattlens --vm` to read. See docs/vm.md.
func setupQemu(cmd *kingpin.CmdClause) action {
	dir := cmd.Flag("qemu.dir", "Directory below which each VM's share (<dir>/<vm>/intel-rapl:0/energy_uj, …) is written; created if missing.").
		Default(defaultQemuDir).Envar("WATTLENS_QEMU_DIR").PlaceHolder("DIR").String()
	step := stepFlag(cmd, "Interval between two writes, in seconds or as a duration (2, 500ms).", "2")
	timeout := durationFlag(cmd.Flag("timeout", "How long to run, in seconds or as a duration; 0 runs until interrupted.").Short('t'), "0")
	maxRange := cmd.Flag("qemu.max-energy-range-uj", "The value each VM's energy_uj wraps at (written to max_energy_range_uj); "+
		"the default is a real RAPL package's, so guests meet wraps as on bare metal.").
		Default("262143328850").Uint64()
	fsync := cmd.Flag("qemu.fsync", "fsync each file before renaming it into place (not needed on a tmpfs).").Bool()

	return func(ctx context.Context, e *env) error {
		if *maxRange == 0 || *maxRange > uint64(qemu.MaxRangeLimit) {
			return usageError{fmt.Errorf("--qemu.max-energy-range-uj must be between 1 and %d", uint64(qemu.MaxRangeLimit))}
		}
		smp, sen, err := e.newSampler() // names the guests (vmdetect)
		if err != nil {
			return err
		}
		defer closeSensor(sen, e.log)
		x, err := qemu.New(*dir, qemu.Options{
			Logger:   e.log,
			MaxRange: units.Energy(*maxRange),
			Step:     *step,
			Sync:     *fsync,
		})
		if err != nil {
			return err
		}
		e.log.Info("writing vm shares", "exporter", qemu.Name, "dir", *dir, "step", *step)
		err = e.loop(ctx, smp, *step, *timeout, x)
		if cerr := x.Close(); cerr != nil {
			e.log.Warn("marking vm shares stopped", "exporter", qemu.Name, "err", cerr)
		}
		return err
	}
}
