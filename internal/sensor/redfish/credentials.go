package redfish

import (
	"errors"
	"fmt"
	"os"

	"go.yaml.in/yaml/v2"
)

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
// never logged.
func ReadCredentials(path string) (Credentials, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Credentials{}, fmt.Errorf("redfish credentials: %w", err)
	}
	return ParseCredentials(b)
}

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
