package redfish

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"math"
	"testing"

	"github.com/stmcginnis/gofish/schemas"

	"github.com/wattlens/wattlens/internal/sensor/redfish/redfishtest"
)

// FuzzDecodePower: whatever a BMC sends as its Power or
// EnvironmentMetrics resource, read through the body cap, decoding it
// and taking the power and rated capacity out of it never panics; a
// figure taken is finite and not negative, and so is the ceiling derived
// from the capacity.
func FuzzDecodePower(f *testing.F) {
	err := fs.WalkDir(redfishtest.Fixtures, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(redfishtest.Fixtures, p)
		if err == nil {
			f.Add(b)
		}
		return err
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(`{"PowerControl":[{"PowerConsumedWatts":1e300,"PowerCapacityWatts":-5}],"PowerSupplies":[{"PowerCapacityWatts":null}]}`))
	f.Add([]byte(`{"PowerWatts":{"Reading":-0.0}}`))
	f.Add([]byte(`{"PowerControl":[{"PowerConsumedWatts":"614"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		body := &cappedBody{rc: io.NopCloser(bytes.NewReader(data)), left: MaxBody}
		b, err := io.ReadAll(body)
		if err != nil {
			if !errors.Is(err, ErrBodyTooLarge) || len(data) <= MaxBody {
				t.Fatalf("reading %d bytes: %v", len(data), err)
			}
			return
		}
		var pw schemas.Power
		if json.Unmarshal(b, &pw) == nil {
			if p, ok := controlPower(&pw); ok && math.IsNaN(p.Watts()) {
				t.Fatalf("power %v", p)
			}
			c := capacity(&pw)
			if w := c.Watts(); math.IsNaN(w) || w < 0 {
				t.Fatalf("capacity %v", w)
			}
			if lim, _ := ceiling(sample{capacity: c}); lim == 0 || lim > maxPower {
				t.Fatalf("ceiling %v for capacity %v", lim, c)
			}
		}
		var env schemas.EnvironmentMetrics
		if json.Unmarshal(b, &env) == nil {
			if p, ok := envPower(&env); ok && math.IsNaN(p.Watts()) {
				t.Fatalf("power %v", p)
			}
		}
	})
}
