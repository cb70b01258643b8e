package vm

// The round trip (the host's qemu exporter writes a share, this sensor
// reads it) is tested in internal/vmshare, the contract both keep.

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wattlens/wattlens/internal/sensor"
	"github.com/wattlens/wattlens/internal/vmshare"
)

func TestMissingShare(t *testing.T) {
	for name, path := range map[string]string{
		"no directory":    filepath.Join(t.TempDir(), "nope"),
		"empty directory": t.TempDir(),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := New(sensor.Options{VMPath: path})
			if !errors.Is(err, sensor.ErrUnavailable) {
				t.Fatalf("New() error = %v, want one wrapping sensor.ErrUnavailable", err)
			}
			for _, want := range []string{path, "virtiofs", "9p", "docs/vm.md", "--vm.path"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
		})
	}
}

func TestStaleLimit(t *testing.T) {
	s := &Sensor{}
	for _, tt := range []struct {
		step float64
		want time.Duration
	}{
		{1, MinStale}, {2, 6 * time.Second}, {10, 30 * time.Second}, {0, DefaultStale}, {-1, DefaultStale}, {1e9, DefaultStale},
	} {
		if got := s.staleAfterFor(meta{Meta: vmshare.Meta{StepSeconds: tt.step}}); got != tt.want {
			t.Errorf("step %g s: stale after %s, want %s", tt.step, got, tt.want)
		}
	}
}

func TestImplements(t *testing.T) {
	var s any = &Sensor{}
	if _, ok := s.(sensor.IdleModeller); !ok {
		t.Error("not a sensor.IdleModeller")
	}
	if _, ok := s.(sensor.Describer); !ok {
		t.Error("not a sensor.Describer")
	}
	if _, ok := s.(sensor.Sensor); !ok {
		t.Error("not a sensor.Sensor")
	}
}
