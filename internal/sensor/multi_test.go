package sensor

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fake is a sensor that reads its zones or its error.
type fake struct {
	name  string
	zones []Zone
	err   error
}

func (f fake) Name() string           { return f.name }
func (f fake) Read() (Reading, error) { return Reading{Zones: f.zones}, f.err }

// TestCombineRead checks which failures of a member fail the whole read:
// all but a member that has had no figure yet (ErrNoReadingYet).
func TestCombineRead(t *testing.T) {
	rapl := fake{name: "powercap_rapl", zones: []Zone{{ID: "intel-rapl:0", Kind: KindPackage}}}
	pending := fake{name: "redfish", err: fmt.Errorf("redfish https://bmc: %w: 401", ErrNoReadingYet)}
	broken := fake{name: "gpu", err: errors.New("nvml hung")}
	wall := fake{name: "redfish", zones: []Zone{{ID: "redfish", Kind: KindWall}}}
	tests := []struct {
		name    string
		ss      []Sensor
		want    []string
		wantErr error
	}{
		{"all read", []Sensor{rapl, wall}, []string{"intel-rapl:0", "redfish"}, nil},
		{"a member with no figure yet is left out", []Sensor{rapl, pending}, []string{"intel-rapl:0"}, nil},
		{"any other failure fails the read", []Sensor{rapl, broken}, nil, errors.New("nvml hung")},
		{"no member with a figure: the reason", []Sensor{pending, fake{name: "x"}}, nil, ErrNoReadingYet},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Combine(tc.ss...).Read()
			if (err != nil) != (tc.wantErr != nil) || err != nil && !errors.Is(err, tc.wantErr) && err.Error() != tc.wantErr.Error() {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			var ids []string
			for _, z := range r.Zones {
				ids = append(ids, z.ID)
			}
			if diff := cmp.Diff(tc.want, ids); diff != "" {
				t.Errorf("zones (-want +got):\n%s", diff)
			}
		})
	}
}
