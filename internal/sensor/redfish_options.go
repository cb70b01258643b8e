package sensor

import "time"

// RedfishOptions configures the redfish sensor: the BMC it asks and how.
// The credentials are read from a file, never given on the command line.
type RedfishOptions struct {
	// Endpoint is the BMC's base URL, "https://bmc.example"; empty: the
	// sensor is unavailable.
	Endpoint string
	// CredentialsFile holds the BMC user and password (see the redfish
	// package).
	CredentialsFile string
	// CAFile is a PEM bundle that signs the BMC's certificate, for BMCs
	// with a certificate of a private CA; empty: the system's roots.
	CAFile string
	// InsecureSkipVerify turns TLS certificate verification off.
	InsecureSkipVerify bool
	// Timeout bounds each request to the BMC.
	Timeout time.Duration
	// Interval is how often the BMC is polled, in the background.
	Interval time.Duration
	// Chassis is the Id of the chassis to read; empty: the first chassis
	// that reports power.
	Chassis string
}
