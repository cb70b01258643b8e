package vmshare

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseMeta(t *testing.T) {
	for _, tt := range []struct {
		name      string
		in        string
		want      Meta
		hasEnergy bool
		wantErr   bool
	}{
		{name: "version 2", in: `{"version":2,"vm":"vm","seq":3,"unix_nano":17,"step_seconds":2,"interval_seconds":2,"power_watts":1.5,` +
			`"energy_uj":5000000,"max_energy_range_uj":262143328850,"counter_epoch":7,"source":"measured","sensor":"powercap_rapl"}`,
			want: Meta{Version: 2, VM: "vm", Seq: 3, UnixNano: 17, StepSeconds: 2, IntervalSeconds: 2, PowerWatts: 1.5,
				EnergyUJ: 5000000, MaxRangeUJ: DefaultMaxRange, CounterEpoch: 7, Source: "measured", Sensor: "powercap_rapl"},
			hasEnergy: true},
		{name: "counter zero", in: `{"seq":1,"energy_uj":0}`, want: Meta{Seq: 1}, hasEnergy: true},
		{name: "no counter", in: `{"seq":1,"stopped":true}`, want: Meta{Seq: 1, Stopped: true}},
		{name: "null counter", in: `{"seq":1,"energy_uj":null}`, want: Meta{Seq: 1}},
		{name: "not an object", in: `[]`, wantErr: true},
		{name: "negative counter", in: `{"energy_uj":-1}`, wantErr: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, has, err := ParseMeta([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseMeta() error = %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseMeta() (-want +got):\n%s", diff)
			}
			if has != tt.hasEnergy {
				t.Errorf("hasEnergy = %v, want %v", has, tt.hasEnergy)
			}
		})
	}
}

func TestEpochZoneID(t *testing.T) {
	for _, tt := range []struct {
		epoch uint64
		want  string
	}{
		{0, "intel-rapl:0"},
		{1700000000000000000, "intel-rapl:0@1700000000000000000"},
	} {
		if got := EpochZoneID(ZoneDir, tt.epoch); got != tt.want {
			t.Errorf("EpochZoneID(%q, %d) = %q, want %q", ZoneDir, tt.epoch, got, tt.want)
		}
	}
}
