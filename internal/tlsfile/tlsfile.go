// Package tlsfile reads the TLS material that clients of the agent take
// from files given on the command line: one home for the CA bundle rule
// shared by the push and otlp exporters and the redfish sensor. Every file
// is opened with fdio.Open: never blocking (a FIFO given by mistake is
// refused, not waited on) and only if it is a regular file.
package tlsfile

import (
	"crypto/tls"
	"crypto/x509"
	"errors"

	"github.com/wattlens/wattlens/internal/fdio"
)

// ErrNoPEM is returned for a file that holds no PEM certificate.
var ErrNoPEM = errors.New("no PEM certificate in it")

// MaxFile bounds a PEM file: a system CA bundle is a few hundred
// kilobytes (Debian's ca-certificates.crt about 220 KB).
const MaxFile = 4 << 20

// CAPool reads a PEM bundle of CA certificates from path. A read error is
// returned as fdio.ReadFile gives it (fdio.ErrNotRegular for a FIFO, a
// device or a directory); a file with no certificate gives ErrNoPEM.
func CAPool(path string) (*x509.CertPool, error) {
	pem, err := fdio.ReadFile(path, MaxFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, ErrNoPEM
	}
	return pool, nil
}

// KeyPair is tls.LoadX509KeyPair with both files read by fdio.ReadFile.
func KeyPair(certFile, keyFile string) (tls.Certificate, error) {
	cert, err := fdio.ReadFile(certFile, MaxFile)
	if err != nil {
		return tls.Certificate{}, err
	}
	key, err := fdio.ReadFile(keyFile, MaxFile)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.X509KeyPair(cert, key)
}
