package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/wattlens/wattlens/internal/sensor/powercap/powercaptest"
	"github.com/wattlens/wattlens/internal/sensor/redfish/redfishtest"
)

// TestInfoRedfish checks that info reports the BMC: its zone and method
// when it answers, the reason and the fix when it refuses the
// credentials.
func TestInfoRedfish(t *testing.T) {
	bmc := redfishtest.New(t, redfishtest.DMTFRackmount)
	dir := t.TempDir()
	ca, err := bmc.WriteCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	sys := t.TempDir()
	if err := powercaptest.Build(sys, powercaptest.IntelServer2S()); err != nil {
		t.Fatal(err)
	}
	procRoot, _ := machineRoots(t, cpuinfo(2, 2, 1, ""), "", "")
	tests := []struct {
		name, password string
		works          bool
		want           string // in the method or the reason
	}{
		{"answers", redfishtest.Password, true, "EnvironmentMetrics.PowerWatts"},
		{"wrong password", "wrong", false, "HTTP 401"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			creds, err := redfishtest.WriteCredentials(t.TempDir(), redfishtest.User, tc.password)
			if err != nil {
				t.Fatal(err)
			}
			args := []string{"--path.sysfs", sys, "--path.procfs", procRoot, "--path.devfs", t.TempDir(),
				"--sensor", "powercap_rapl,redfish", "--redfish.endpoint", bmc.URL,
				"--redfish.credentials-file", creds, "--redfish.ca-file", ca, "--redfish.timeout", "10s", "info"}
			code, out, stderr := runWattlens(t, append(args, "--json")...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			var rep infoReport
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatalf("%v in %s", err, out)
			}
			var rf *sensorInfo
			for i := range rep.Sensors {
				if rep.Sensors[i].Name == "redfish" {
					rf = &rep.Sensors[i]
				}
			}
			if rf == nil {
				t.Fatalf("no redfish sensor in %s", out)
			}
			if rf.Works != tc.works || !strings.Contains(rf.Method+rf.Reason, tc.want) {
				t.Errorf("redfish: works %v method %q reason %q; want works %v and %q", rf.Works, rf.Method, rf.Reason, tc.works, tc.want)
			}
			if tc.works && (len(rf.Zones) != 1 || rf.Zones[0].Kind != "wall") {
				t.Errorf("redfish zones %+v, want one wall zone", rf.Zones)
			}
			if strings.Contains(out+stderr, redfishtest.Password) {
				t.Errorf("the password shows in info's output")
			}
			code, text, _ := runWattlens(t, args...)
			if code != 0 || !strings.Contains(text, "redfish") || !strings.Contains(text, tc.want) {
				t.Errorf("info text (exit %d) does not report redfish with %q:\n%s", code, tc.want, text)
			}
		})
	}
}
