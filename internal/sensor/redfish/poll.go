package redfish

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/stmcginnis/gofish"
	"github.com/stmcginnis/gofish/schemas"

	"github.com/wattlens/wattlens/internal/units"
)

// Where a figure comes from.
const (
	methodEnvironment = "EnvironmentMetrics.PowerWatts"
	methodPowerCtl    = "Power.PowerControl.PowerConsumedWatts"
)

// sample is one answer of the BMC.
type sample struct {
	power   units.Power
	method  string
	chassis string
	// capacity is the chassis's rated power (see capacityOf); 0 when
	// the BMC does not say.
	capacity units.Power
}

// poller holds the Redfish connection and the chassis found to report
// power. It is used by one goroutine at a time (the sensor's poller, or
// New before it starts).
type poller struct {
	endpoint  string
	chassisID string
	creds     Credentials
	client    *http.Client
	ctx       context.Context

	api      *gofish.APIClient
	chassis  *schemas.Chassis
	capacity units.Power // the chassis's, read when it was found
}

// fetch asks the BMC for the chassis power. It connects and finds the
// chassis when it has none; any failure forgets the chassis, so the next
// poll looks again (a BMC that restarted may have renamed it).
func (p *poller) fetch() (sample, error) {
	if p.api == nil {
		api, err := gofish.ConnectContext(p.ctx, gofish.ClientConfig{
			Endpoint:          p.endpoint,
			Username:          p.creds.Username,
			Password:          p.creds.Password,
			BasicAuth:         true,
			HTTPClient:        p.client,
			NoModifyTransport: true,
			ReuseConnections:  true,
		})
		if err != nil {
			return sample{}, describe(err)
		}
		p.api = api
	}
	if p.chassis != nil {
		s, ok, err := readChassis(p.chassis)
		if err == nil && ok {
			s.capacity = p.capacity
			return s, nil
		}
		p.chassis = nil
		if err != nil {
			return sample{}, describe(err)
		}
	}
	s, err := p.discover()
	return s, describe(err)
}

// discover lists the chassis and keeps the first that reports power (or
// the one named by --redfish.chassis).
func (p *poller) discover() (sample, error) {
	all, err := p.api.Service.Chassis()
	if err != nil {
		return sample{}, err
	}
	var ids []string
	for _, c := range all {
		ids = append(ids, c.ID)
		if p.chassisID != "" && c.ID != p.chassisID {
			continue
		}
		s, ok, err := readChassis(c)
		if err != nil {
			return sample{}, fmt.Errorf("chassis %s: %w", c.ID, err)
		}
		if ok {
			p.chassis, p.capacity = c, capacityOf(c)
			s.capacity = p.capacity
			return s, nil
		}
	}
	if p.chassisID != "" {
		return sample{}, fmt.Errorf("no chassis %q reports power (chassis: %v)", p.chassisID, ids)
	}
	return sample{}, fmt.Errorf("no chassis reports power: none has EnvironmentMetrics.PowerWatts or Power.PowerControl[].PowerConsumedWatts (chassis: %v)", ids)
}

// readChassis reads c's power: EnvironmentMetrics first, the deprecated
// Power resource after. ok is false when c reports neither.
func readChassis(c *schemas.Chassis) (sample, bool, error) {
	env, err := c.EnvironmentMetrics()
	if err != nil && !isNotFound(err) {
		return sample{}, false, err
	}
	if p, ok := envPower(env); ok {
		return sample{power: p, method: methodEnvironment, chassis: c.ID}, true, nil
	}
	pw, err := c.Power()
	if err != nil && !isNotFound(err) {
		return sample{}, false, err
	}
	if p, ok := controlPower(pw); ok {
		return sample{power: p, method: methodPowerCtl, chassis: c.ID}, true, nil
	}
	return sample{}, false, nil
}

// envPower is EnvironmentMetrics.PowerWatts.Reading; ok is false when env
// is nil or gives no reading, or a negative one.
func envPower(env *schemas.EnvironmentMetrics) (units.Power, bool) {
	if env == nil || env.PowerWatts.Reading == nil || !(*env.PowerWatts.Reading >= 0) {
		return 0, false
	}
	return units.FromWatts(float64(*env.PowerWatts.Reading)), true
}

// controlPower is the first PowerControl[].PowerConsumedWatts of pw that
// is there and not negative.
func controlPower(pw *schemas.Power) (units.Power, bool) {
	if pw == nil {
		return 0, false
	}
	for _, pc := range pw.PowerControl {
		if pc.PowerConsumedWatts != nil && *pc.PowerConsumedWatts >= 0 {
			return units.FromWatts(float64(*pc.PowerConsumedWatts)), true
		}
	}
	return 0, false
}

// capacityOf reads the chassis's rated power from its Power resource:
// the larger of PowerControl[].PowerCapacityWatts (what the chassis may
// draw) and the sum of PowerSupplies[].PowerCapacityWatts (what its
// supplies are rated for, redundant ones included, so a loose bound).
// It is 0 when the BMC gives neither, or gives no Power resource
// (EnvironmentMetrics carries no capacity).
func capacityOf(c *schemas.Chassis) units.Power {
	pw, err := c.Power()
	if err != nil {
		return 0
	}
	return capacity(pw)
}

// capacity is capacityOf's rule on a Power resource already read.
func capacity(pw *schemas.Power) units.Power {
	if pw == nil {
		return 0
	}
	var control, supplies float64
	for _, pc := range pw.PowerControl {
		if pc.PowerCapacityWatts != nil {
			control = max(control, float64(*pc.PowerCapacityWatts))
		}
	}
	for _, ps := range pw.PowerSupplies {
		if ps.PowerCapacityWatts != nil && *ps.PowerCapacityWatts > 0 {
			supplies += float64(*ps.PowerCapacityWatts)
		}
	}
	return units.FromWatts(max(control, supplies))
}

func isNotFound(err error) bool {
	re, ok := httpError(err)
	return ok && re.HTTPReturnedStatusCode == http.StatusNotFound
}

// httpError finds the BMC's HTTP error in err, also inside gofish's
// collection errors.
func httpError(err error) (*schemas.Error, bool) {
	var re *schemas.Error
	if errors.As(err, &re) {
		return re, true
	}
	var ce *schemas.CollectionError
	if errors.As(err, &ce) {
		for _, e := range ce.Failures {
			if re, ok := httpError(e); ok {
				return re, true
			}
		}
	}
	return nil, false
}

// describe turns the BMC's HTTP errors into what to do about them.
func describe(err error) error {
	if err == nil {
		return nil
	}
	if re, ok := httpError(err); ok {
		switch re.HTTPReturnedStatusCode {
		case http.StatusUnauthorized, http.StatusForbidden:
			return fmt.Errorf("bmc refused the credentials (HTTP %d): check --redfish.credentials-file", re.HTTPReturnedStatusCode)
		case http.StatusServiceUnavailable:
			return errors.New("bmc unavailable (HTTP 503): it may be busy or restarting")
		default:
			return fmt.Errorf("bmc answered HTTP %d: %s", re.HTTPReturnedStatusCode, re.Message)
		}
	}
	return err
}
