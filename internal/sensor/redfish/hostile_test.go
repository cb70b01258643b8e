package redfish

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wattlens/wattlens/internal/fdio"

	"github.com/wattlens/wattlens/internal/sensor"
	"github.com/wattlens/wattlens/internal/sensor/redfish/redfishtest"
)

// TestRedirectOffOrigin: a BMC that redirects to another scheme or host
// is refused with an error naming both origins; the other server never
// sees the credentials and its figure (777 W) is never booked.
func TestRedirectOffOrigin(t *testing.T) {
	tests := []struct {
		name  string
		other func(t *testing.T) *redfishtest.BMC
	}{
		// https → http on the same address: today the credentials follow.
		{"to plain http", func(t *testing.T) *redfishtest.BMC { return redfishtest.NewHTTP(t, redfishtest.DMTFRackmount) }},
		// To another port (another origin) that asks for no credentials.
		{"to another https server", func(t *testing.T) *redfishtest.BMC { return redfishtest.New(t, redfishtest.DMTFRackmount) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			other := tc.other(t)
			other.SetOpen(true)
			other.SetPower(777)
			bmc := redfishtest.New(t, redfishtest.DMTFRackmount)
			bmc.SetRedirect(other.URL)
			s := open(t, bmc, func(o *sensor.RedfishOptions) { o.Interval = time.Hour })
			if n := other.AuthSeen(); n != 0 {
				t.Errorf("the other server got the credentials %d times", n)
			}
			if got := other.ServedPowers(); len(got) != 0 {
				t.Errorf("the other server served %d power figures, want none asked for", len(got))
			}
			_, err := s.Read()
			if !errors.Is(err, sensor.ErrNoReadingYet) {
				t.Fatalf("Read: %v, want ErrNoReadingYet (no figure booked from a redirect)", err)
			}
			_, lastErr := s.Status()
			want := []string{"off the configured", "https://127.0.0.1:", other.URL[:strings.LastIndex(other.URL, ":")]}
			for _, w := range want {
				if lastErr == nil || !strings.Contains(lastErr.Error(), w) {
					t.Errorf("poll error %v: want it to name %q", lastErr, w)
				}
			}
		})
	}
}

// TestBodyCapped: a 100 MB answer is refused after MaxBody bytes, chunked
// or announced, and the agent allocates nowhere near the 100 MB.
func TestBodyCapped(t *testing.T) {
	const padding = 100 << 20
	for _, withLength := range []bool{false, true} {
		name := "chunked"
		if withLength {
			name = "Content-Length"
		}
		t.Run(name, func(t *testing.T) {
			bmc := redfishtest.New(t, redfishtest.DMTFRackmount)
			bmc.SetPadding(padding, withLength)
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			s := open(t, bmc, func(o *sensor.RedfishOptions) { o.Interval = time.Hour })
			runtime.ReadMemStats(&after)
			if _, err := s.Read(); !errors.Is(err, sensor.ErrNoReadingYet) {
				t.Fatalf("Read: %v, want no reading from a padded answer", err)
			}
			_, lastErr := s.Status()
			if lastErr == nil || !strings.Contains(lastErr.Error(), "larger than 4194304 bytes") {
				t.Errorf("poll error %v: want the size refused", lastErr)
			}
			t.Logf("padding written by the server %.1f MB of %d MiB; allocated by the process meanwhile %.1f MB",
				float64(bmc.PaddingWritten())/1e6, padding>>20, float64(after.TotalAlloc-before.TotalAlloc)/1e6)
			// What the server got out is what the client read plus the
			// sockets' buffers: far below the 100 MB.
			if w := bmc.PaddingWritten(); w > 32<<20 {
				t.Errorf("the server wrote %d MB of padding: the body was read past the cap", w>>20)
			}
			// Every allocation of the process in the meantime, the test
			// server's included.
			if a := after.TotalAlloc - before.TotalAlloc; a > 96<<20 {
				t.Errorf("%d MB allocated while reading a 100 MB answer, want far less", a>>20)
			}
		})
	}
}

// TestAboveCapacity: a reading far above what the chassis is rated for
// (the DMTF mockup: PowerControl and its supply rated 800 W) is
// refused, at the first poll and after good ones, and the figure held is
// the last good one; a reading within the margin is taken.
func TestAboveCapacity(t *testing.T) {
	bmc := redfishtest.New(t, redfishtest.DMTFRackmount)
	bmc.SetPower(199999)
	s := open(t, bmc, func(o *sensor.RedfishOptions) { o.Interval = 20 * time.Millisecond })
	if _, err := s.Read(); !errors.Is(err, sensor.ErrNoReadingYet) {
		t.Fatalf("Read: %v, want 199 999 W refused at the first poll", err)
	}
	_, lastErr := s.Status()
	if lastErr == nil || !strings.Contains(lastErr.Error(), "199999 W, more than 1200 W (1.5 × the chassis's rated 800 W") {
		t.Errorf("poll error %v: want the reading refused against the rated power", lastErr)
	}
	bmc.SetPower(300)
	waitFor(t, func() bool { p, _ := lastPower(s); return p.Watts() == 300 })
	bmc.SetPower(199999)
	n := len(bmc.ServedPowers())
	waitFor(t, func() bool { return len(bmc.ServedPowers()) >= n+3 })
	if p, _ := lastPower(s); p.Watts() != 300 {
		t.Errorf("power held %v, want the last good 300 W", p)
	}
	if _, err := s.Status(); err == nil || !strings.Contains(err.Error(), "reading refused") {
		t.Errorf("poll error %v, want the reading refused", err)
	}
	bmc.SetPower(1100) // within 1.5 × 800 W
	waitFor(t, func() bool { p, _ := lastPower(s); return p.Watts() == 1100 })
}

// waitFor polls cond every 10 ms for up to 30 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("condition not met in 30 s")
}

// TestCredentialsTooOpen: a credentials file that group or others can
// read starts the sensor with one warning naming the file and its mode,
// as ssh does for a private key; at 0600 nothing is said.
func TestCredentialsTooOpen(t *testing.T) {
	for _, tc := range []struct {
		mode os.FileMode
		warn bool
	}{{0o644, true}, {0o640, true}, {0o604, true}, {0o600, false}, {0o400, false}} {
		t.Run(fmt.Sprintf("%04o", uint32(tc.mode)), func(t *testing.T) {
			bmc := redfishtest.New(t, redfishtest.DMTFRackmount)
			ca, creds := bmc.Files(t)
			if err := os.Chmod(creds, tc.mode); err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			o := sensor.RedfishOptions{Endpoint: bmc.URL, CredentialsFile: creds, CAFile: ca, Timeout: 2 * time.Second, Interval: time.Hour}
			s, err := newSensor(sensor.Options{Redfish: o, Logger: slog.New(slog.NewTextHandler(&logs, nil))}, time.Now, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			var lines []string
			for _, l := range strings.Split(logs.String(), "\n") {
				if strings.Contains(l, "too open") {
					lines = append(lines, l)
				}
			}
			mode := fmt.Sprintf("%04o", uint32(tc.mode))
			switch {
			case tc.warn && (len(lines) != 1 || !strings.Contains(lines[0], creds) || !strings.Contains(lines[0], "mode="+mode)):
				t.Errorf("want one warning naming %s and mode %s, got %q", creds, mode, lines)
			case !tc.warn && len(lines) != 0:
				t.Errorf("want no warning at %s, got %q", mode, lines)
			}
		})
	}
}

// TestFIFOFiles: a FIFO given as the credentials or the CA file is
// refused at once, not waited on.
func TestFIFOFiles(t *testing.T) {
	bmc := redfishtest.New(t, redfishtest.DMTFRackmount)
	ca, creds := bmc.Files(t)
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for name, o := range map[string]sensor.RedfishOptions{
		"credentials": {Endpoint: bmc.URL, CredentialsFile: fifo, CAFile: ca},
		"ca":          {Endpoint: bmc.URL, CredentialsFile: creds, CAFile: fifo},
	} {
		t.Run(name, func(t *testing.T) {
			done := make(chan error, 1)
			go func() {
				s, err := newSensor(sensor.Options{Redfish: o}, time.Now, nil)
				if err == nil {
					_ = s.Close()
				}
				done <- err
			}()
			select {
			case err := <-done:
				if !errors.Is(err, fdio.ErrNotRegular) || !strings.Contains(err.Error(), fifo) {
					t.Errorf("error %v, want %s refused as not a regular file", err, fifo)
				}
			case <-time.After(5 * time.Second):
				// Unblock the open so the goroutine ends.
				if f, err := os.OpenFile(fifo, os.O_WRONLY|unix.O_NONBLOCK, 0); err == nil {
					_ = f.Close()
				}
				t.Fatal("still opening the FIFO after 5 s")
			}
		})
	}
}
