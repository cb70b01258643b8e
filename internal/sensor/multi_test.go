package sensor

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/units"
)

// fake is a sensor that reads its zones or its error.
type fake struct {
	name  string
	zones []power.Zone
	err   error
}

func (f fake) Name() string                 { return f.name }
func (f fake) Read() (power.Reading, error) { return power.Reading{Zones: f.zones}, f.err }

// TestCombineRead checks which failures of a member fail the whole read:
// all but a member that has had no figure yet (ErrNoReadingYet).
func TestCombineRead(t *testing.T) {
	rapl := fake{name: "powercap_rapl", zones: []power.Zone{{ID: "intel-rapl:0", Kind: power.KindPackage}}}
	pending := fake{name: "redfish", err: fmt.Errorf("redfish https://bmc: %w: 401", ErrNoReadingYet)}
	broken := fake{name: "gpu", err: errors.New("nvml hung")}
	wall := fake{name: "redfish", zones: []power.Zone{{ID: "redfish", Kind: power.KindWall}}}
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

// The fakes below add one optional interface each to fake, so that a
// combination can hold members with and without it.

// modelled models idle power.
type modelled struct {
	fake
	idle units.Power
}

func (m modelled) IdlePower() units.Power { return m.idle }

// described says how it gets its figures.
type described struct {
	fake
	method string
}

func (d described) Method() string { return d.method }

// closing counts its Close calls and returns err from each.
type closing struct {
	fake
	err    error
	closed *int
}

func (c closing) Close() error {
	*c.closed++
	return c.err
}

// sharing knows which processes used its zones.
type sharing struct {
	fake
	shares map[string]power.Shares
}

func (s sharing) ProcessShares() map[string]power.Shares { return s.shares }

func TestCombineOneIsItself(t *testing.T) {
	one := &fake{name: "powercap_rapl"}
	if got := Combine(one); got != Sensor(one) {
		t.Errorf("Combine(one) = %#v, want the sensor itself", got)
	}
}

// TestCombineImplements checks that a combination offers every optional
// interface, whatever its members offer: the sampler and attribution look
// for them on the combined sensor.
func TestCombineImplements(t *testing.T) {
	s := Combine(fake{name: "a"}, fake{name: "b"})
	if _, ok := s.(IdleModeller); !ok {
		t.Error("not an IdleModeller")
	}
	if _, ok := s.(Describer); !ok {
		t.Error("not a Describer")
	}
	if _, ok := s.(Closer); !ok {
		t.Error("not a Closer")
	}
	if _, ok := s.(ProcessSharer); !ok {
		t.Error("not a ProcessSharer")
	}
}

func TestCombineName(t *testing.T) {
	tests := []struct {
		name string
		ss   []Sensor
		want string
	}{
		{"two, in order", []Sensor{fake{name: "powercap_rapl"}, fake{name: "gpu"}}, "powercap_rapl,gpu"},
		{"three", []Sensor{fake{name: "estimate"}, fake{name: "gpu"}, fake{name: "redfish"}}, "estimate,gpu,redfish"},
		{"nested", []Sensor{Combine(fake{name: "a"}, fake{name: "b"}), fake{name: "c"}}, "a,b,c"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Combine(tt.ss...).Name(); got != tt.want {
				t.Errorf("Name() = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestCombineReadZones checks that a read holds every member's zones, in
// the members' order and each member's own order, unchanged.
func TestCombineReadZones(t *testing.T) {
	pkg := []power.Zone{
		{ID: "intel-rapl:0", Kind: power.KindPackage, Socket: 0, Energy: 1_000_000, MaxRange: 262_143_328_850},
		{ID: "intel-rapl:0:0", Kind: power.KindCore, Socket: 0, Energy: 400_000, MaxRange: 262_143_328_850},
	}
	gpu := []power.Zone{{ID: "gpu:0", Kind: power.KindGPU, Socket: -1, Energy: 7_000_000, MaxPower: 700 * units.Watt}}
	r, err := Combine(fake{name: "powercap_rapl", zones: pkg}, fake{name: "gpu", zones: gpu}).Read()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(power.Reading{Zones: append(append([]power.Zone{}, pkg...), gpu...)}, r); diff != "" {
		t.Errorf("reading (-want +got):\n%s", diff)
	}
}

// TestCombineReadErrors: which member's error a failed read returns.
func TestCombineReadErrors(t *testing.T) {
	rapl := fake{name: "powercap_rapl", zones: []power.Zone{{ID: "intel-rapl:0", Kind: power.KindPackage}}}
	pending := fake{name: "redfish", err: fmt.Errorf("redfish: %w", ErrNoReadingYet)}
	gone := fake{name: "powercap_rapl", err: errors.New("zone intel-rapl:1 vanished")}
	hung := fake{name: "gpu", err: errors.New("nvml hung")}
	tests := []struct {
		name    string
		ss      []Sensor
		wantErr string
	}{
		{"the first failure", []Sensor{gone, hung}, "zone intel-rapl:1 vanished"},
		{"a failure after a good member", []Sensor{rapl, hung}, "nvml hung"},
		{"a failure after a pending member", []Sensor{pending, hung}, "nvml hung"},
		{"a pending member before a failure", []Sensor{pending, rapl, gone}, "zone intel-rapl:1 vanished"},
		{"every member pending: the last reason", []Sensor{pending, fake{name: "bmc2", err: fmt.Errorf("bmc2: %w", ErrNoReadingYet)}}, "bmc2: no reading yet"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Combine(tt.ss...).Read()
			if err == nil || err.Error() != tt.wantErr {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			if len(r.Zones) != 0 {
				t.Errorf("a failed read has zones: %v", r.Zones)
			}
		})
	}
}

func TestCombineIdlePower(t *testing.T) {
	tests := []struct {
		name string
		ss   []Sensor
		want units.Power
	}{
		{"no member models it", []Sensor{fake{name: "powercap_rapl"}, fake{name: "gpu"}}, 0},
		{"one member models it", []Sensor{modelled{fake{name: "estimate"}, 42 * units.Watt}, fake{name: "gpu"}}, 42 * units.Watt},
		{"the sum of the members that model it", []Sensor{modelled{fake{name: "estimate"}, 42 * units.Watt}, fake{name: "x"}, modelled{fake{name: "gpu"}, 61_500_000}}, 103_500_000},
		{"nested", []Sensor{Combine(modelled{fake{name: "a"}, 1}, modelled{fake{name: "b"}, 2}), modelled{fake{name: "c"}, 4}}, 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Combine(tt.ss...).(IdleModeller).IdlePower(); got != tt.want {
				t.Errorf("IdlePower() = %d µW, want %d µW", got, tt.want)
			}
		})
	}
}

// TestHasIdleModel: a combination always has an IdlePower method, so
// whether it models idle power depends on its members.
func TestHasIdleModel(t *testing.T) {
	plain := fake{name: "powercap_rapl"}
	model := modelled{fake{name: "estimate"}, 42 * units.Watt}
	tests := []struct {
		name string
		s    Sensor
		want bool
	}{
		{"a plain sensor", plain, false},
		{"a modelling sensor", model, true},
		{"combined, none modelling", Combine(plain, fake{name: "gpu"}), false},
		{"combined, one modelling", Combine(plain, model), true},
		{"nested, none modelling", Combine(Combine(plain, plain), plain), false},
		{"nested, deep inside", Combine(plain, Combine(plain, model)), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := HasIdleModel(tt.s); got != tt.want {
				t.Errorf("HasIdleModel = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCombineMethod(t *testing.T) {
	tests := []struct {
		name string
		ss   []Sensor
		want string
	}{
		{"no member describes itself", []Sensor{fake{name: "a"}, fake{name: "b"}}, ""},
		{"one", []Sensor{described{fake{name: "estimate"}, "model: Xeon Gold 6338, 2 sockets"}, fake{name: "gpu"}}, "model: Xeon Gold 6338, 2 sockets"},
		{"joined in order", []Sensor{described{fake{name: "a"}, "first"}, fake{name: "x"}, described{fake{name: "b"}, "second"}}, "first; second"},
		{"an empty method is left out", []Sensor{described{fake{name: "a"}, ""}, described{fake{name: "b"}, "only"}}, "only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Combine(tt.ss...).(Describer).Method(); got != tt.want {
				t.Errorf("Method() = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestCombineClose: every member that holds resources is closed once,
// even after another's Close failed, and every failure is reported.
func TestCombineClose(t *testing.T) {
	errA, errB := errors.New("nvml shutdown failed"), errors.New("session logout failed")
	tests := []struct {
		name     string
		errs     []error // one closing member per entry
		plain    int     // members without Close
		wantErrs []error
	}{
		{"no member holds anything", nil, 2, nil},
		{"all close", []error{nil, nil}, 1, nil},
		{"one fails, the others are closed", []error{nil, errA, nil}, 0, []error{errA}},
		{"every failure is reported", []error{errA, errB}, 1, []error{errA, errB}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			counts := make([]int, len(tt.errs))
			var ss []Sensor
			for i, err := range tt.errs {
				ss = append(ss, closing{fake: fake{name: fmt.Sprint("c", i)}, err: err, closed: &counts[i]})
			}
			for i := 0; i < tt.plain; i++ {
				ss = append(ss, fake{name: fmt.Sprint("p", i)})
			}
			if len(ss) < 2 {
				t.Fatal("a combination needs two members")
			}
			err := Combine(ss...).(Closer).Close()
			if (err != nil) != (len(tt.wantErrs) > 0) {
				t.Fatalf("Close() = %v, want errors %v", err, tt.wantErrs)
			}
			for _, want := range tt.wantErrs {
				if !errors.Is(err, want) {
					t.Errorf("Close() = %v, does not report %v", err, want)
				}
			}
			for i, n := range counts {
				if n != 1 {
					t.Errorf("member c%d closed %d times, want once", i, n)
				}
			}
		})
	}
}

func TestCombineProcessShares(t *testing.T) {
	gpu0 := power.Shares{100: 0.75, 200: 0.25}
	gpu1 := power.Shares{300: 1}
	tests := []struct {
		name string
		ss   []Sensor
		want map[string]power.Shares
	}{
		{"no member shares", []Sensor{fake{name: "powercap_rapl"}, fake{name: "estimate"}}, nil},
		{"a sharer that knows nothing", []Sensor{fake{name: "powercap_rapl"}, sharing{fake{name: "gpu"}, nil}}, nil},
		{"one sharer", []Sensor{fake{name: "powercap_rapl"}, sharing{fake{name: "gpu"}, map[string]power.Shares{"gpu:0": gpu0}}}, map[string]power.Shares{"gpu:0": gpu0}},
		{"merged", []Sensor{
			sharing{fake{name: "gpu"}, map[string]power.Shares{"gpu:0": gpu0}},
			fake{name: "powercap_rapl"},
			sharing{fake{name: "npu"}, map[string]power.Shares{"npu:1": gpu1, "npu:2": {}}},
		}, map[string]power.Shares{"gpu:0": gpu0, "npu:1": gpu1, "npu:2": {}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Combine(tt.ss...).(ProcessSharer).ProcessShares()
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ProcessShares (-want +got):\n%s", diff)
			}
		})
	}
}
