package config

import (
	"fmt"
	"time"
)

// Redfish defaults.
const (
	DefaultRedfishTimeout  = 5 * time.Second
	DefaultRedfishInterval = 5 * time.Second
)

// Redfish is where and how the redfish sensor reads the BMC. The
// password is never here: it is in CredentialsFile.
type Redfish struct {
	Endpoint           string
	CredentialsFile    string
	CAFile             string
	InsecureSkipVerify bool
	Timeout            time.Duration
	Interval           time.Duration
	Chassis            string
}

// Validate checks the durations.
func (r Redfish) Validate() error {
	if r.Timeout <= 0 || r.Timeout > time.Minute {
		return fmt.Errorf("redfish timeout %s out of range: give a duration above 0 and up to 1m", r.Timeout)
	}
	if r.Interval < 100*time.Millisecond || r.Interval > time.Hour {
		return fmt.Errorf("redfish interval %s out of range: give a duration from 100ms to 1h", r.Interval)
	}
	return nil
}
