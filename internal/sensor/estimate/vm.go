package estimate

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/wattlens/wattlens/internal/model"
)

// readDMI reads what /sys/class/dmi/id says about the machine (SMBIOS
// system information; Documentation/ABI/testing/sysfs-class-dmi-id).
func readDMI(sysfs string) model.DMI {
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(sysfs, "class", "dmi", "id", name))
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(b))
	}
	return model.DMI{Vendor: read("sys_vendor"), Product: read("product_name")}
}
