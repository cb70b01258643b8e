package config

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{in: "2", want: 2 * time.Second},
		{in: "0.5", want: 500 * time.Millisecond},
		{in: "0", want: 0},
		{in: "2s", want: 2 * time.Second},
		{in: "500ms", want: 500 * time.Millisecond},
		{in: "1m30s", want: 90 * time.Second},
		{in: "-1", wantErr: true},
		{in: "-2s", wantErr: true},
		{in: "two", wantErr: true},
		{in: "", wantErr: true},
		{in: "1e300", wantErr: true},
		{in: "NaN", wantErr: true},
		{in: "nan", wantErr: true},
		{in: "Inf", wantErr: true},
		{in: "-Inf", wantErr: true},
		{in: "+Inf", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseDuration(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("ParseDuration(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	known := []string{"powercap_rapl", "estimate"}
	tests := []struct {
		name    string
		mod     func(*Config)
		wantErr string
	}{
		{name: "defaults", mod: func(*Config) {}},
		{name: "list", mod: func(c *Config) { c.Sensors = []string{"powercap_rapl", "estimate"} }},
		{name: "unknown sensor", mod: func(c *Config) { c.Sensors = []string{"rapl"} }, wantErr: "valid sensors: auto, powercap_rapl, estimate"},
		{name: "auto in a list", mod: func(c *Config) { c.Sensors = []string{"auto", "estimate"} }, wantErr: "unknown sensor \"auto\""},
		{name: "bad policy", mod: func(c *Config) { c.IdlePolicy = "none" }, wantErr: "valid policies: separate, shared"},
		{name: "negative idle", mod: func(c *Config) { c.IdlePower, c.IdlePowerSet = -1, true }, wantErr: "out of range"},
		{name: "NaN idle", mod: func(c *Config) { c.IdlePower, c.IdlePowerSet = math.NaN(), true }, wantErr: "out of range"},
		{name: "Inf idle", mod: func(c *Config) { c.IdlePower, c.IdlePowerSet = math.Inf(1), true }, wantErr: "out of range"},
		{name: "duplicate sensor", mod: func(c *Config) { c.Sensors = []string{"powercap_rapl", "powercap_rapl"} }, wantErr: "given twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.mod(&c)
			err := c.Validate(known)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("Validate() = %v, want error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestParseStep(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{in: "0.1", want: MinStep},
		{in: "100ms", want: MinStep},
		{in: "2", want: 2 * time.Second},
		{in: "99ms", wantErr: true},
		{in: "1ns", wantErr: true},
		{in: "0", wantErr: true},
		{in: "NaN", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseStep(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("ParseStep(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}
