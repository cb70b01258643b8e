package machine

import (
	"strings"
	"testing"
)

func TestIsVM(t *testing.T) {
	tests := []struct {
		name    string
		flag    bool
		dmi     DMI
		want    bool
		because string
	}{
		{"hypervisor flag decides", true, DMI{"Dell Inc.", "PowerEdge R750"}, true, "hypervisor flag"},
		{"arm guest on kvm", false, DMI{"QEMU", "KVM Virtual Machine"}, true, "QEMU/KVM"},
		{"aws bare metal", false, DMI{"Amazon EC2", "c6g.metal"}, false, "cloud bare-metal"},
		{"aws guest", false, DMI{"Amazon EC2", "c6g.large"}, true, "Amazon EC2"},
		{"hyper-v", false, DMI{"Microsoft Corporation", "Virtual Machine"}, true, "Hyper-V"},
		{"microsoft laptop", false, DMI{"Microsoft Corporation", "Surface Laptop 5"}, false, "bare metal"},
		{"no dmi", false, DMI{}, false, "unknown / unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, why := IsVM(tt.flag, tt.dmi)
			if got != tt.want || !strings.Contains(why, tt.because) {
				t.Errorf("IsVM = %v, %q; want %v, saying %q", got, why, tt.want, tt.because)
			}
		})
	}
}
