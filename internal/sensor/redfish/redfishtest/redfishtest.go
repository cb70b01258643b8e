// Package redfishtest serves Redfish payloads published by BMC vendors and
// by the DMTF (see testdata/README.md) from an HTTPS server on 127.0.0.1,
// as a BMC would, for tests of the redfish sensor and end-to-end tests of
// the agent: the power it reports can be set, and it can be made slow,
// refuse the credentials (401) or be unavailable (503); a hostile one can
// redirect elsewhere or pad its answers without bound.
package redfishtest

import (
	"embed"
	"encoding/json"
	"encoding/pem"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

//go:embed testdata
var fixtures embed.FS

// Fixtures are the payloads in testdata, as served (for fuzz seeds).
var Fixtures fs.FS = fixtures

// Mockups are the payload sets in testdata, by directory name.
const (
	DMTFRackmount = "dmtf-rackmount1"   // EnvironmentMetrics and the deprecated Power
	DellR750      = "dell-idrac-r750"   // Power only
	HPEDL385      = "hpe-ilo-dl385"     // Power only
	Lenovo7Z23    = "lenovo-xcc-7z23"   // EnvironmentMetrics and Power
	SupermicroX13 = "supermicro-x13deg" // Power only
)

// Credentials the server accepts.
const (
	User     = "monitor"
	Password = "s3cret-Pa55"
)

// Mode is how the server answers.
type Mode int32

// Modes.
const (
	OK           Mode = iota
	Slow              // waits Delay before answering every request but the service root
	Unauthorized      // 401 to every authenticated request, as for a wrong password
	Unavailable       // 503 to every request, as a BMC restarting
	Down              // closes the connection at once
)

// BMC is a fake BMC.
type BMC struct {
	*httptest.Server
	files map[string][]byte // URL path without trailing slash → payload

	mode    atomic.Int32
	powerMW atomic.Int64 // milliwatts; < 0: the payload's own figure
	// Delay is how long a Slow answer takes.
	Delay time.Duration

	redirect atomic.Pointer[string] // when set, every request is sent there (302)
	open     atomic.Bool            // serve without checking credentials
	pad      atomic.Int64           // bytes of whitespace before each power payload
	padLen   atomic.Bool            // announce the padded length in Content-Length
	written  atomic.Int64           // bytes of padding written so far

	mu       sync.Mutex
	requests int
	authSeen int // requests that carried an Authorization header
	served   []Served
}

// Served is one power figure the server gave, and when.
type Served struct {
	At    time.Time
	Watts float64
}

// New starts a BMC serving the named mockup over TLS on 127.0.0.1; it is
// closed when the test ends.
func New(t interface {
	Helper()
	Fatalf(string, ...any)
	Cleanup(func())
}, mockup string) *BMC {
	t.Helper()
	b := &BMC{files: map[string][]byte{}, Delay: 5 * time.Second}
	b.powerMW.Store(-1)
	root := path.Join("testdata", mockup)
	err := fs.WalkDir(fixtures, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Base(p) != "index.json" {
			return err
		}
		data, err := fixtures.ReadFile(p)
		if err != nil {
			return err
		}
		url := strings.TrimPrefix(path.Dir(p), root)
		b.files[url] = data
		return nil
	})
	if err != nil || len(b.files) == 0 {
		t.Fatalf("mockup %s: %v (%d files)", mockup, err, len(b.files))
	}
	b.Server = httptest.NewTLSServer(http.HandlerFunc(b.serve))
	t.Cleanup(b.Close)
	return b
}

// NewHTTP is New over plain HTTP: a server that a hostile BMC may send
// the agent to.
func NewHTTP(t interface {
	Helper()
	Fatalf(string, ...any)
	Cleanup(func())
}, mockup string) *BMC {
	t.Helper()
	b := New(t, mockup)
	b.Close()
	b.Server = httptest.NewServer(http.HandlerFunc(b.serve))
	t.Cleanup(b.Close)
	return b
}

// SetRedirect makes the server answer every request with 302 Found to
// the same path under base (as "http://127.0.0.1:8080"); "" stops it.
func (b *BMC) SetRedirect(base string) {
	if base == "" {
		b.redirect.Store(nil)
		return
	}
	b.redirect.Store(&base)
}

// SetOpen makes the server answer without checking the credentials, as a
// server that is not the BMC would.
func (b *BMC) SetOpen(open bool) { b.open.Store(open) }

// SetPadding makes the server send n bytes of whitespace before each
// payload that holds a power figure (valid JSON, n bytes longer), in
// 64 KiB writes; withLength announces the full length in Content-Length,
// else the body is chunked.
func (b *BMC) SetPadding(n int64, withLength bool) {
	b.pad.Store(n)
	b.padLen.Store(withLength)
}

// PaddingWritten is how many bytes of padding the server managed to
// write: what a client read of it, plus what the sockets' buffers held.
func (b *BMC) PaddingWritten() int64 { return b.written.Load() }

// AuthSeen is the number of requests that carried an Authorization header.
func (b *BMC) AuthSeen() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.authSeen
}

// SetMode changes how the server answers.
func (b *BMC) SetMode(m Mode) { b.mode.Store(int32(m)) }

// SetPower makes the server report w watts wherever the payload reports
// the chassis power (EnvironmentMetrics.PowerWatts.Reading and
// Power.PowerControl[].PowerConsumedWatts); the rest of each payload is
// served as published.
func (b *BMC) SetPower(w float64) { b.powerMW.Store(int64(w * 1000)) }

// Requests is the number of requests served so far.
func (b *BMC) Requests() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.requests
}

// WriteCA writes the server's certificate as a PEM file for
// --redfish.ca-file and returns its path.
func (b *BMC) WriteCA(dir string) (string, error) {
	p := filepath.Join(dir, "bmc-ca.pem")
	data := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: b.Certificate().Raw})
	return p, os.WriteFile(p, data, 0o600)
}

// Files writes the BMC's CA and the credentials it accepts into a
// temporary directory of t, as --redfish.ca-file and
// --redfish.credentials-file name them, and returns their paths.
func (b *BMC) Files(t interface {
	Helper()
	TempDir() string
	Fatal(args ...any)
}) (ca, creds string) {
	t.Helper()
	dir := t.TempDir()
	ca, err := b.WriteCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	creds, err = WriteCredentials(dir, User, Password)
	if err != nil {
		t.Fatal(err)
	}
	return ca, creds
}

// WriteCredentials writes a credentials file with user and password and
// returns its path.
func WriteCredentials(dir, user, password string) (string, error) {
	p := filepath.Join(dir, "bmc-credentials.yml")
	return p, os.WriteFile(p, []byte("username: "+user+"\npassword: "+password+"\n"), 0o600)
}

func (b *BMC) serve(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	b.requests++
	if r.Header.Get("Authorization") != "" {
		b.authSeen++
	}
	b.mu.Unlock()
	if to := b.redirect.Load(); to != nil {
		http.Redirect(w, r, *to+r.URL.RequestURI(), http.StatusFound)
		return
	}
	p := strings.TrimRight(r.URL.Path, "/")
	public := p == "/redfish/v1" || p == "/redfish"
	switch Mode(b.mode.Load()) {
	case Down:
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				_ = c.Close()
				return
			}
		}
		http.Error(w, "down", http.StatusBadGateway)
		return
	case Unavailable:
		redfishError(w, http.StatusServiceUnavailable, "Base.1.8.ServiceTemporarilyUnavailable", "The service is temporarily unavailable.")
		return
	case Unauthorized:
		if !public {
			w.Header().Set("WWW-Authenticate", `Basic realm="Redfish"`)
			redfishError(w, http.StatusUnauthorized, "Base.1.8.InsufficientPrivilege", "There are insufficient privileges for the account or credentials associated with the current session to perform the requested operation.")
			return
		}
	case Slow:
		if !public {
			select {
			case <-time.After(b.Delay):
			case <-r.Context().Done():
				return
			}
		}
	}
	if !public && !b.open.Load() {
		u, pw, ok := r.BasicAuth()
		if !ok || u != User || pw != Password {
			w.Header().Set("WWW-Authenticate", `Basic realm="Redfish"`)
			redfishError(w, http.StatusUnauthorized, "Base.1.8.InsufficientPrivilege", "There are insufficient privileges for the account or credentials associated with the current session to perform the requested operation.")
			return
		}
	}
	data, ok := b.files[p]
	if !ok {
		redfishError(w, http.StatusNotFound, "Base.1.8.ResourceMissingAtURI", "The resource at the URI "+p+" was not found.")
		return
	}
	if mw := b.powerMW.Load(); mw >= 0 {
		var changed bool
		data, changed = withPower(data, float64(mw)/1000)
		if changed {
			b.mu.Lock()
			b.served = append(b.served, Served{At: time.Now(), Watts: float64(mw) / 1000})
			b.mu.Unlock()
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("OData-Version", "4.0")
	if n := b.pad.Load(); n > 0 && hasPower(data) {
		b.writePadded(w, data, n)
		return
	}
	_, _ = w.Write(data)
}

// hasPower reports whether a payload holds a chassis power figure.
func hasPower(data []byte) bool {
	_, ok := withPower(data, 0)
	return ok
}

// writePadded writes n bytes of spaces, then data, counting the padding
// written; it stops at the first failed write (the client went away).
func (b *BMC) writePadded(w http.ResponseWriter, data []byte, n int64) {
	if b.padLen.Load() {
		w.Header().Set("Content-Length", strconv.FormatInt(n+int64(len(data)), 10))
	}
	chunk := []byte(strings.Repeat(" ", 64<<10))
	for n > 0 {
		c := chunk[:min(int64(len(chunk)), n)]
		m, err := w.Write(c)
		b.written.Add(int64(m))
		if err != nil {
			return
		}
		n -= int64(m)
	}
	_, _ = w.Write(data)
}

// ServedPowers returns the power figures served so far, in order.
func (b *BMC) ServedPowers() []Served {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]Served(nil), b.served...)
}

// withPower replaces the chassis power figures of a payload and says
// whether it had any.
func withPower(data []byte, watts float64) ([]byte, bool) {
	var doc map[string]any
	if json.Unmarshal(data, &doc) != nil {
		return data, false
	}
	changed := false
	if pw, ok := doc["PowerWatts"].(map[string]any); ok {
		pw["Reading"] = watts
		changed = true
	}
	if pcs, ok := doc["PowerControl"].([]any); ok {
		for _, pc := range pcs {
			if m, ok := pc.(map[string]any); ok {
				if _, has := m["PowerConsumedWatts"]; has {
					m["PowerConsumedWatts"] = watts
					changed = true
				}
			}
		}
	}
	if !changed {
		return data, false
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return data, false
	}
	return out, true
}

func redfishError(w http.ResponseWriter, status int, id, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{
		"code": id, "message": msg,
		"@Message.ExtendedInfo": []map[string]any{{"MessageId": id, "Message": msg}},
	}})
}
