package config

import (
	"strings"
	"testing"
	"time"
)

func TestRedfishValidate(t *testing.T) {
	tests := []struct {
		name     string
		timeout  time.Duration
		interval time.Duration
		want     string // "" for valid
	}{
		{"defaults", DefaultRedfishTimeout, DefaultRedfishInterval, ""},
		{"zero timeout", 0, time.Second, "redfish timeout"},
		{"timeout over a minute", 2 * time.Minute, time.Second, "redfish timeout"},
		{"interval too short", time.Second, 10 * time.Millisecond, "redfish interval"},
		{"interval over an hour", time.Second, 2 * time.Hour, "redfish interval"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			c.Redfish.Timeout, c.Redfish.Interval = tc.timeout, tc.interval
			err := c.Validate([]string{"redfish"})
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("Validate() = %v, want %q", err, tc.want)
			}
		})
	}
}
