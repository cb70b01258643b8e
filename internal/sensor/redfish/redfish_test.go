package redfish

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wattlens/wattlens/internal/polltest"
	"github.com/wattlens/wattlens/internal/power"
	"github.com/wattlens/wattlens/internal/sensor"
	"github.com/wattlens/wattlens/internal/sensor/redfish/redfishtest"
	"github.com/wattlens/wattlens/internal/units"
)

// open starts the sensor against bmc with its CA trusted, as
// --redfish.ca-file does.
func open(t *testing.T, bmc *redfishtest.BMC, mod func(*sensor.RedfishOptions)) *Sensor {
	t.Helper()
	ca, creds := bmc.Files(t)
	o := sensor.RedfishOptions{Endpoint: bmc.URL, CredentialsFile: creds, CAFile: ca, Timeout: 2 * time.Second, Interval: 20 * time.Millisecond}
	if mod != nil {
		mod(&o)
	}
	s, err := newSensor(sensor.Options{Redfish: o}, time.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	// New waits for the first poll only up to the timeout; a loaded
	// machine may take longer.
	select {
	case <-s.first:
	case <-time.After(30 * time.Second):
		t.Fatal("the first poll did not end in 30 s")
	}
	return s
}

// lastPower is the last power the sensor got from the BMC.
func lastPower(s *Sensor) (units.Power, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.meter.lastP, s.method
}

// TestVendorPayloads reads the chassis power from the payloads that BMC
// vendors and the DMTF publish (testdata/README.md), as served.
func TestVendorPayloads(t *testing.T) {
	tests := []struct {
		mockup string
		watts  float64
		method string
	}{
		// EnvironmentMetrics (374 W) is preferred to the deprecated Power (344 W).
		{redfishtest.DMTFRackmount, 374, methodEnvironment},
		{redfishtest.DellR750, 614, methodPowerCtl},
		{redfishtest.HPEDL385, 531, methodPowerCtl},
		// EnvironmentMetrics 700 W, Power 708 W.
		{redfishtest.Lenovo7Z23, 700, methodEnvironment},
		{redfishtest.SupermicroX13, 2161, methodPowerCtl},
	}
	for _, tc := range tests {
		t.Run(tc.mockup, func(t *testing.T) {
			bmc := redfishtest.New(t, tc.mockup)
			s := open(t, bmc, func(o *sensor.RedfishOptions) { o.Interval = time.Hour })
			p, method := lastPower(s)
			if diff := cmp.Diff([]any{units.FromWatts(tc.watts), tc.method}, []any{p, method}); diff != "" {
				t.Errorf("power and method (-want +got):\n%s", diff)
			}
			r, err := s.Read()
			if err != nil {
				t.Fatal(err)
			}
			z := r.Zones[0]
			if len(r.Zones) != 1 || z.Kind != power.KindWall || z.Source != power.Measured || z.ID != ZoneID {
				t.Errorf("zones = %+v, want one measured wall zone", r.Zones)
			}
		})
	}
}

// TestTLS checks that the BMC's certificate is verified unless told not to.
func TestTLS(t *testing.T) {
	bmc := redfishtest.New(t, redfishtest.DMTFRackmount)
	t.Run("unknown ca: refused", func(t *testing.T) {
		s := open(t, bmc, func(o *sensor.RedfishOptions) { o.CAFile = "" })
		_, err := s.Read()
		if !errors.Is(err, sensor.ErrNoReadingYet) || !strings.Contains(err.Error(), "certificate") {
			t.Errorf("Read() error = %v, want no reading for a certificate error", err)
		}
	})
	t.Run("insecure skip verify", func(t *testing.T) {
		s := open(t, bmc, func(o *sensor.RedfishOptions) { o.CAFile, o.InsecureSkipVerify = "", true })
		if _, err := s.Read(); err != nil {
			t.Errorf("Read() = %v", err)
		}
	})
}

// TestConfigErrors checks what New refuses.
func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	creds, err := redfishtest.WriteCredentials(dir, "u", "p")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		o    sensor.RedfishOptions
		want string
	}{
		{"no endpoint", sensor.RedfishOptions{}, "sensor unavailable"},
		{"not a url", sensor.RedfishOptions{Endpoint: "bmc.example", CredentialsFile: creds}, "want https://"},
		{"no credentials file", sensor.RedfishOptions{Endpoint: "https://127.0.0.1:1"}, "credentials-file"},
		{"credentials file missing", sensor.RedfishOptions{Endpoint: "https://127.0.0.1:1", CredentialsFile: dir + "/none"}, "no such file"},
		{"ca file missing", sensor.RedfishOptions{Endpoint: "https://127.0.0.1:1", CredentialsFile: creds, CAFile: dir + "/none"}, "ca file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := newSensor(sensor.Options{Redfish: tc.o}, time.Now, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New() error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestParseCredentials(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Credentials
		wantErr bool
	}{
		{"both", "username: monitor\npassword: 'p:w d'\n", Credentials{"monitor", "p:w d"}, false},
		{"no password", "username: monitor\n", Credentials{Username: "monitor"}, false},
		{"no username", "password: x\n", Credentials{}, true},
		{"unknown key", "user: monitor\npassword: x\n", Credentials{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseCredentials([]byte(tc.in))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestUnauthorized checks that refused credentials give a reading error
// that says what to fix, from the start and after a good start.
func TestUnauthorized(t *testing.T) {
	bmc := redfishtest.New(t, redfishtest.DellR750)
	t.Run("wrong password from the start", func(t *testing.T) {
		dir := t.TempDir()
		creds, err := redfishtest.WriteCredentials(dir, redfishtest.User, "wrong")
		if err != nil {
			t.Fatal(err)
		}
		s := open(t, bmc, func(o *sensor.RedfishOptions) { o.CredentialsFile = creds })
		_, err = s.Read()
		if !errors.Is(err, sensor.ErrNoReadingYet) || !strings.Contains(err.Error(), "HTTP 401") || !strings.Contains(err.Error(), "credentials-file") {
			t.Errorf("Read() error = %v, want no reading, HTTP 401 and the fix", err)
		}
	})
	t.Run("password changed on the bmc", func(t *testing.T) {
		s := open(t, bmc, nil)
		if _, err := s.Read(); err != nil {
			t.Fatal(err)
		}
		bmc.SetMode(redfishtest.Unauthorized)
		t.Cleanup(func() { bmc.SetMode(redfishtest.OK) })
		polltest.Until(t, "a 401", func() bool { _, err := s.Status(); return err != nil && strings.Contains(err.Error(), "HTTP 401") })
		if _, err := s.Read(); err != nil {
			t.Errorf("Read() = %v: a sensor that had figures keeps its zone", err)
		}
	})
}

// TestUnavailable checks a BMC that answers 503 for a while: the zone
// stays, is marked estimated once stale, and measured again after. The
// energy across the gap lies between the lowest and the highest power
// served times the span: nothing lost, nothing counted twice (the exact
// trapezoid across a gap is TestMeter's).
func TestUnavailable(t *testing.T) {
	bmc := redfishtest.New(t, redfishtest.DMTFRackmount)
	bmc.SetPower(100)
	s := open(t, bmc, func(o *sensor.RedfishOptions) { o.Timeout = 100 * time.Millisecond })
	before, err := s.Read()
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	lastOK, _ := s.Status()
	bmc.SetMode(redfishtest.Unavailable)
	polltest.Until(t, "a 503", func() bool { _, err := s.Status(); return err != nil && strings.Contains(err.Error(), "503") })
	polltest.Until(t, "the zone to go stale", func() bool {
		r, err := s.Read()
		return err == nil && r.Zones[0].Source == power.Estimated
	})
	bmc.SetPower(300)
	bmc.SetMode(redfishtest.OK)
	var after power.Reading
	polltest.Until(t, "the bmc to be back", func() bool {
		okAt, perr := s.Status()
		if perr != nil || !okAt.After(lastOK) {
			return false
		}
		after, err = s.Read()
		return err == nil && after.Zones[0].Source == power.Measured
	})
	span := time.Since(t0).Seconds()
	got := (after.Zones[0].Energy - before.Zones[0].Energy).Joules()
	if lo, hi := 100*span*0.95, 300*span*1.05; got < lo || got > hi {
		t.Errorf("energy over %.3f s with an outage = %.3f J, want between %.3f J (100 W) and %.3f J (300 W)", span, got, lo, hi)
	}
}

// TestSlow checks that a BMC slower than the timeout never blocks Read.
func TestSlow(t *testing.T) {
	bmc := redfishtest.New(t, redfishtest.SupermicroX13)
	bmc.Delay = 3 * time.Second
	t.Run("slow from the start", func(t *testing.T) {
		bmc.SetMode(redfishtest.Slow)
		t.Cleanup(func() { bmc.SetMode(redfishtest.OK) })
		s := open(t, bmc, func(o *sensor.RedfishOptions) { o.Timeout = 100 * time.Millisecond })
		// The first error may be another (a connection the loaded test
		// server dropped): wait for the timeout itself.
		polltest.Until(t, "a timeout", func() bool {
			_, err := s.Status()
			return err != nil && strings.Contains(err.Error(), "Timeout")
		})
		_, err := s.Read()
		if !errors.Is(err, sensor.ErrNoReadingYet) || !strings.Contains(err.Error(), "Timeout") {
			t.Errorf("Read() error = %v, want no reading after a timeout", err)
		}
	})
	t.Run("slow after a good start", func(t *testing.T) {
		bmc.SetMode(redfishtest.OK)
		s := open(t, bmc, func(o *sensor.RedfishOptions) { o.Timeout = 100 * time.Millisecond })
		bmc.SetMode(redfishtest.Slow)
		t.Cleanup(func() { bmc.SetMode(redfishtest.OK) })
		polltest.Until(t, "a timeout", func() bool { _, err := s.Status(); return err != nil })
		// Read answers from the cache while a poll is stuck on the BMC.
		for range 5 {
			if _, err := s.Read(); err != nil {
				t.Fatalf("Read() = %v", err)
			}
		}
	})
}

// TestEnergyMatchesServedPower serves a power schedule and checks that
// the counter's energy over it matches Σ P × Δt of the schedule. The
// sensor cannot know when between two of its samples the power changed:
// each change may shift up to |ΔP| × the time between the two samples
// around it, taken from what the BMC served.
func TestEnergyMatchesServedPower(t *testing.T) {
	bmc := redfishtest.New(t, redfishtest.DMTFRackmount)
	bmc.SetPower(250)
	s := open(t, bmc, nil)
	read := func() (units.Energy, time.Time) {
		r, err := s.Read()
		if err != nil {
			t.Fatal(err)
		}
		return r.Zones[0].Energy, time.Now()
	}
	// servedAfter waits for a figure served after at.
	servedAfter := func(at time.Time) {
		polltest.Until(t, "a sample", func() bool {
			sv := bmc.ServedPowers()
			return len(sv) > 0 && sv[len(sv)-1].At.After(at)
		})
	}
	servedAfter(time.Now())
	e0, t0 := read()
	type change struct {
		at       time.Time
		from, to float64
	}
	var changes []change
	var want float64
	last, power := t0, 250.0
	for _, w := range []float64{400, 150, 320} {
		now := time.Now()
		want += power * now.Sub(last).Seconds()
		bmc.SetPower(w)
		changes = append(changes, change{now, power, w})
		last, power = now, w
		time.Sleep(300 * time.Millisecond)
	}
	servedAfter(time.Now()) // the last figure has been seen
	e1, t1 := read()
	want += power * t1.Sub(last).Seconds()
	got := (e1 - e0).Joules()

	served := bmc.ServedPowers()
	var slack float64
	for _, c := range changes {
		before, after := t0, t1
		for _, sv := range served {
			if !sv.At.After(c.at) {
				before = sv.At
			} else if sv.At.Before(after) {
				after = sv.At
				break
			}
		}
		slack += math.Abs(c.to-c.from) * after.Sub(before).Seconds()
	}
	t.Logf("energy %.3f J, schedule %.3f J, slack %.3f J, %d figures served", got, want, slack, len(served))
	if got < want-slack || got > want+slack {
		t.Errorf("energy = %.3f J, want %.3f ± %.3f J (the served schedule)", got, want, slack)
	}
	if len(served) < 10 {
		t.Errorf("bmc served %d power figures in 0.9 s at a 20 ms poll; the poller is not polling", len(served))
	}
}
