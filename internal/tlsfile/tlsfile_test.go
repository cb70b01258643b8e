package tlsfile

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wattlens/wattlens/internal/fdio"
)

func TestCAPool(t *testing.T) {
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "ca.pem")
	bad := filepath.Join(dir, "bad.pem")
	if err := os.WriteFile(good, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if pool, err := CAPool(good); err != nil || pool == nil {
		t.Errorf("CAPool(good) = %v, %v", pool, err)
	}
	if _, err := CAPool(bad); !errors.Is(err, ErrNoPEM) {
		t.Errorf("CAPool(bad) error %v, want ErrNoPEM", err)
	}
	if _, err := CAPool(filepath.Join(dir, "missing.pem")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("CAPool(missing) error %v, want not-exist", err)
	}
	// A FIFO is refused at once (a plain open waits for a writer).
	fifo := filepath.Join(dir, "fifo.pem")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := CAPool(fifo); !errors.Is(err, fdio.ErrNotRegular) {
		t.Errorf("CAPool(fifo) error %v, want not a regular file", err)
	}
	if _, err := KeyPair(fifo, fifo); !errors.Is(err, fdio.ErrNotRegular) {
		t.Errorf("KeyPair(fifo) error %v, want not a regular file", err)
	}
}
