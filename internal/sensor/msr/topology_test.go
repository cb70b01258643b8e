package msr

import (
	"strings"
	"testing"
)

func TestParseCPUInfo(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    cpuID
		wantErr bool
	}{
		{
			name: "intel two processors",
			in: `processor	: 0
vendor_id	: GenuineIntel
cpu family	: 6
model		: 85
model name	: Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz
stepping	: 7

processor	: 1
vendor_id	: GenuineIntel
cpu family	: 6
model		: 99
`,
			want: cpuID{vendor: "GenuineIntel", family: 6, model: 85},
		},
		{
			name: "amd",
			in: `processor	: 0
vendor_id	: AuthenticAMD
cpu family	: 25
model		: 1
model name	: AMD EPYC 7763 64-Core Processor
`,
			want: cpuID{vendor: "AuthenticAMD", family: 25, model: 1},
		},
		{
			name: "hygon",
			in:   "processor : 0\nvendor_id : HygonGenuine\ncpu family : 24\nmodel : 1\n",
			want: cpuID{vendor: "HygonGenuine", family: 24, model: 1},
		},
		{name: "no vendor (arm64)", in: "processor : 0\nBogoMIPS : 50.00\nCPU implementer : 0x41\n", wantErr: true},
		{name: "bad family", in: "vendor_id : GenuineIntel\ncpu family : six\n", wantErr: true},
		{name: "empty", in: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseCPUInfo(strings.NewReader(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}
