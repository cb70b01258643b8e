package vm

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wattlens/wattlens/internal/vmshare"
)

// FuzzShareMeta: whatever a share's wattlens.json holds, the guest's
// sensor opens and reads it or fails with an error; a reading never has a
// counter beyond its range, and the staleness limit stays finite and at
// least MinStale.
func FuzzShareMeta(f *testing.F) {
	f.Add([]byte(`{"version":1,"vm":"vm","seq":3,"unix_nano":1700000000000000000,"step_seconds":2,"energy_uj":5000000,"max_energy_range_uj":262143328850,"counter_epoch":7,"source":"measured","sensor":"powercap_rapl"}`))
	f.Add([]byte(`{"seq":1,"step_seconds":1e308,"energy_uj":18446744073709551615,"max_energy_range_uj":1}`))
	f.Add([]byte(`{"stopped":true,"step_seconds":-1}`))
	f.Add([]byte(`{"step_seconds":NaN}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		share := filepath.Join(t.TempDir(), "vm") // the zone's files as a host writes them, and the fuzzed heartbeat
		zone := filepath.Join(share, vmshare.ZoneDir)
		if err := os.MkdirAll(zone, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, content := range map[string]string{"name": "package-0\n", "energy_uj": "1000\n", "max_energy_range_uj": "262143328850\n"} {
			if err := os.WriteFile(filepath.Join(zone, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(share, vmshare.MetaFile), b, 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := NewAt(share, nil)
		if err != nil {
			return
		}
		if d := s.staleAfter(); d < MinStale || d > time.Duration(1<<62) {
			t.Errorf("stale limit %v from %s", d, b)
		}
		r, err := s.Read()
		if err != nil {
			return
		}
		for _, z := range r.Zones {
			if z.MaxRange != 0 && z.Energy > z.MaxRange {
				t.Errorf("zone %s: energy %d beyond range %d from %s", z.ID, z.Energy, z.MaxRange, b)
			}
		}
	})
}
