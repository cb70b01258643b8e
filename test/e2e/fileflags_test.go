package e2e

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestFileFlagFIFO: a FIFO given to any flag that names a file to read is
// refused at start, exit 2, with the flag named; nothing hangs (a plain
// open of a FIFO waits for a writer, deaf to signals).
func TestFileFlagFIFO(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	sys := t.TempDir()
	tests := []struct {
		flag string
		args []string
	}{
		{"--redfish.credentials-file", []string{"--redfish.endpoint", "https://127.0.0.1:1", "--redfish.credentials-file", fifo, "info"}},
		{"--redfish.ca-file", []string{"--redfish.ca-file", fifo, "info"}},
		{"--web.config.file", []string{"prometheus", "--web.listen-address", "127.0.0.1:0", "--web.config.file", fifo}},
		{"--web.config.file", []string{"web", "--web.listen-address", "127.0.0.1:0", "--web.config.file", fifo}},
		{"--push.password-file", []string{"prometheus-push", "--push.username", "u", "--push.password-file", fifo}},
		{"--push.ca-file", []string{"prometheus-push", "--push.ca-file", fifo}},
		{"--push.cert-file", []string{"prometheus-push", "--push.cert-file", fifo, "--push.key-file", fifo}},
		{"--otlp.ca-file", []string{"otlp", "--otlp.ca-file", fifo}},
		{"--otlp.cert-file", []string{"otlp", "--otlp.cert-file", fifo, "--otlp.key-file", fifo}},
		{"--containers.token-file", []string{"json", "--containers.token-file", fifo}},
		{"--containers.ca-file", []string{"json", "--containers.ca-file", fifo}},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, wattlensBin, append([]string{"--path.sysfs", sys, "-s", "estimate"}, tc.args...)...)
			cmd.WaitDelay = time.Second
			start := time.Now()
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 2 {
				t.Fatalf("after %v: %v, want exit 2; output:\n%s", time.Since(start).Round(time.Millisecond), err, out)
			}
			if !strings.Contains(string(out), tc.flag+" "+fifo+": not a regular file") {
				t.Errorf("output %q: want the flag %s and the file named", out, tc.flag)
			}
		})
	}
}
