package hwmon

import (
	"cmp"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/wattlens/wattlens/internal/fdio"
)

// device is one <sysfs>/class/hwmon/hwmonN directory.
type device struct {
	id       string // hwmonN
	name     string
	channels []channel
}

var (
	hwmonDirRE = regexp.MustCompile(`^hwmon(\d+)$`)
	valueRE    = regexp.MustCompile(`^(energy|power)(\d+)_(input|average)$`)
)

// listDevices reads every hwmonN under classDir in numeric order. A device
// without a readable name is skipped.
func listDevices(classDir string) ([]device, error) {
	entries, err := os.ReadDir(classDir)
	if err != nil {
		return nil, err
	}
	var devs []device
	for _, e := range entries {
		if !hwmonDirRE.MatchString(e.Name()) {
			continue
		}
		d, ok := readDevice(filepath.Join(classDir, e.Name()))
		if !ok {
			continue
		}
		d.id = e.Name()
		devs = append(devs, d)
	}
	slices.SortFunc(devs, func(a, b device) int { return cmp.Compare(hwmonIndex(a.id), hwmonIndex(b.id)) })
	return devs, nil
}

func hwmonIndex(id string) int {
	n, _ := strconv.Atoi(strings.TrimPrefix(id, "hwmon"))
	return n
}

// readDevice finds the attribute directory and the energy and power
// channels in it. Drivers registered with the old hwmon_device_register
// (acpi_power_meter, for one: its attributes sit on the ACPI000D device)
// keep their attributes, name included, in hwmonN/device.
func readDevice(path string) (device, bool) {
	var first *device
	for _, dir := range []string{path, filepath.Join(path, "device")} {
		name, err := readString(filepath.Join(dir, "name"))
		if err != nil {
			continue
		}
		chs, err := readChannels(dir)
		if err != nil {
			continue
		}
		d := device{name: name, channels: chs}
		if len(chs) > 0 {
			return d, true
		}
		if first == nil {
			first = &d
		}
	}
	if first == nil {
		return device{}, false
	}
	return *first, true
}

// readChannels lists energyN_input, powerN_input and powerN_average in dir,
// one channel per (type, N): powerN_input is preferred to powerN_average
// when a driver has both.
func readChannels(dir string) ([]channel, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	type key struct {
		typ   string
		index int
	}
	byKey := map[key]channel{}
	for _, e := range entries {
		m := valueRE.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		n, err := strconv.Atoi(m[2])
		if err != nil {
			continue
		}
		k := key{m[1], n}
		if old, ok := byKey[k]; ok && strings.HasSuffix(old.file, "_input") {
			continue
		}
		byKey[k] = channel{typ: m[1], index: n, file: filepath.Join(dir, e.Name())}
	}
	chs := make([]channel, 0, len(byKey))
	for k, ch := range byKey {
		label, err := readString(filepath.Join(dir, k.typ+strconv.Itoa(k.index)+"_label"))
		if err == nil {
			ch.label = label
		}
		chs = append(chs, ch)
	}
	slices.SortFunc(chs, func(a, b channel) int {
		return cmp.Or(cmp.Compare(a.typ, b.typ), cmp.Compare(a.index, b.index))
	})
	return chs, nil
}

func readString(path string) (string, error) {
	b, err := fdio.ReadFile(path, 4096) // never waits on a FIFO planted in the tree
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// readUint reads a hwmon value file: one decimal integer. hwmon prints
// energy and power as unsigned; a negative value is clamped to zero.
func readUint(path string) (uint64, error) {
	s, err := readString(path)
	if err != nil {
		return 0, err
	}
	return parseValue(s)
}

// parseValue parses a hwmon value: one decimal integer, a negative one
// clamped to zero.
func parseValue(s string) (uint64, error) {
	if v, err := strconv.ParseUint(s, 10, 64); err == nil {
		return v, nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, err
	}
	if v < 0 {
		return 0, nil
	}
	return uint64(v), nil
}

func isPermission(err error) bool { return errors.Is(err, fs.ErrPermission) }
