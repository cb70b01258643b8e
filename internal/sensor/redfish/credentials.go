package redfish

import (
	"errors"
	"fmt"
	"io/fs"

	"go.yaml.in/yaml/v2"

	"github.com/wattlens/wattlens/internal/fdio"
)

// maxCredentials bounds a credentials file: two short YAML lines.
const maxCredentials = 64 << 10

// Credentials are the BMC account the sensor logs in with (HTTP basic
// authentication, DSP0266 §13.3).
type Credentials struct {
	Username string `yaml:"username"`
	Password string `yaml:"password"`
}

// ReadCredentials reads a credentials file, YAML:
//
//	username: monitor
//	password: secret
//
// The file should be readable by the agent's user only; the password is
// never logged. It is opened with fdio.Open (a FIFO is refused, never
// waited on); mode is its permission bits, for the caller to warn when
// group or others may read it.
func ReadCredentials(path string) (c Credentials, mode fs.FileMode, err error) {
	b, mode, err := fdio.ReadFileMode(path, maxCredentials)
	if err != nil {
		return Credentials{}, 0, fmt.Errorf("redfish credentials: %w", err)
	}
	c, err = ParseCredentials(b)
	return c, mode, err
}

// TooOpen reports whether mode lets group or others read or write the
// file (mode & 0o077 ≠ 0), as ssh refuses for a private key.
func TooOpen(mode fs.FileMode) bool { return mode&0o077 != 0 }

// ParseCredentials parses the contents of a credentials file.
func ParseCredentials(b []byte) (Credentials, error) {
	var c Credentials
	if err := yaml.UnmarshalStrict(b, &c); err != nil {
		return Credentials{}, fmt.Errorf("redfish credentials: want `username: …` and `password: …`: %w", err)
	}
	if c.Username == "" {
		return Credentials{}, errors.New("redfish credentials: no username")
	}
	return c, nil
}
