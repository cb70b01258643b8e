package main

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/prometheus/exporter-toolkit/web"
)

// FuzzWebConfig: whatever --web.config.file holds, its validation returns
// an error or nil, and never panics.
func FuzzWebConfig(f *testing.F) {
	f.Add([]byte("basic_auth_users:\n  alice: $2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi\n"))
	f.Add([]byte("tls_server_config:\n  cert_file: /nonexistent.crt\n  key_file: /nonexistent.key\n"))
	f.Add([]byte("http_server_config:\n  headers:\n    X-Frame-Options: deny\n"))
	f.Add([]byte("tls_server_config: [\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(t.TempDir(), "web.yml")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		_ = web.Validate(path)
	})
}

// FuzzFlagNumbers: the number flags accept exactly the finite numbers.
func FuzzFlagNumbers(f *testing.F) {
	for _, s := range []string{"2", "NaN", "Inf", "-0", "1e309", "0x1p-2", "abc", "=5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var x float64
		if err := (floatValue{name: "--x", f: &x}).Set(s); err == nil && (math.IsNaN(x) || math.IsInf(x, 0)) {
			t.Errorf("Set(%q) accepted %v", s, x)
		}
	})
}
