package main

import (
	"github.com/alecthomas/kingpin/v2"

	"github.com/wattlens/wattlens/internal/config"
	"github.com/wattlens/wattlens/internal/sensor"
)

// bindRedfish declares the redfish sensor's flags. There is no password
// flag: a command line is readable by every user of the machine, so the
// BMC account is read from --redfish.credentials-file.
func bindRedfish(app *kingpin.Application, r *config.Redfish) {
	app.Flag("redfish.endpoint", "Base URL of the server's BMC for the redfish sensor, e.g. https://bmc.example.").PlaceHolder("URL").
		Envar("WATTLENS_REDFISH_ENDPOINT").StringVar(&r.Endpoint)
	app.Flag("redfish.credentials-file", "File with the BMC account, YAML with username and password keys (keep it mode 0600).").
		PlaceHolder("FILE").StringVar(&r.CredentialsFile)
	app.Flag("redfish.ca-file", "PEM file of the CA that signed the BMC's certificate (default: the system's roots).").
		PlaceHolder("FILE").StringVar(&r.CAFile)
	app.Flag("redfish.insecure-skip-verify", "Do not verify the BMC's TLS certificate (prefer --redfish.ca-file).").
		BoolVar(&r.InsecureSkipVerify)
	app.Flag("redfish.timeout", "Bound on each request to the BMC.").
		Default(config.DefaultRedfishTimeout.String()).DurationVar(&r.Timeout)
	app.Flag("redfish.interval", "How often the BMC is polled, in the background; ticks read the latest figure.").
		Default(config.DefaultRedfishInterval.String()).DurationVar(&r.Interval)
	app.Flag("redfish.chassis", "Id of the chassis to read (default: the first that reports power).").
		StringVar(&r.Chassis)
}

// redfishOptions is the sensor's view of the configuration.
func redfishOptions(r config.Redfish) sensor.RedfishOptions {
	return sensor.RedfishOptions{
		Endpoint: r.Endpoint, CredentialsFile: r.CredentialsFile, CAFile: r.CAFile,
		InsecureSkipVerify: r.InsecureSkipVerify, Timeout: r.Timeout, Interval: r.Interval,
		Chassis: r.Chassis,
	}
}
