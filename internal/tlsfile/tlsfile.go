// Package tlsfile reads the TLS material that clients of the agent take
// from files given on the command line: one home for the CA bundle rule
// shared by the push and otlp exporters and the redfish sensor.
package tlsfile

import (
	"crypto/x509"
	"errors"
	"os"
)

// ErrNoPEM is returned for a file that holds no PEM certificate.
var ErrNoPEM = errors.New("no PEM certificate in it")

// CAPool reads a PEM bundle of CA certificates from path. A read error is
// returned as os.ReadFile gives it; a file with no certificate gives
// ErrNoPEM.
func CAPool(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, ErrNoPEM
	}
	return pool, nil
}
