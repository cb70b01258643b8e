// Package deploy holds the deployment artefacts (Helm chart, plain
// Kubernetes manifests, Docker Compose, systemd; the Dockerfile is at the
// repository's root) and the tests that check them: the chart renders
// into Kubernetes-shaped objects with the mounts, flags and RBAC it
// promises (chart_test.go), the rendered manifests are up to date, the
// compose file, the systemd unit and the Dockerfile are well formed
// (compose_test.go, systemd_test.go, dockerfile_test.go), and every flag
// they pass is one the wattlens binary knows (this file).
//
// The chart is rendered with render.sh, which builds a pinned helm from
// its Go module: the first run downloads and compiles it (about four
// minutes on two cores); later runs take seconds. -short skips those tests.
package deploy

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"go.yaml.in/yaml/v2"
)

// namespace is the one render.sh installs into.
const namespace = "wattlens"

// render runs render.sh with helm template flags and returns its output.
func render(t *testing.T, flags ...string) []byte {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: rendering the chart builds helm from its Go module (minutes on a cold cache)")
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash not found: render.sh cannot run")
	}
	cmd := exec.Command(bash, append([]string{"render.sh"}, flags...)...)
	cmd.Env = append(os.Environ(), "HELM=") // always the pinned helm
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("render.sh %s: %v\n%s", strings.Join(flags, " "), err, stderr.String())
	}
	return out
}

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// wattlensBinary builds ./cmd/wattlens once per test binary.
func wattlensBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "wattlens-deploy-test-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "wattlens")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/wattlens")
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build ./cmd/wattlens: %w\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// TestMain removes the binary wattlensBinary built.
func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		_ = os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

var longFlag = regexp.MustCompile(`--(?:\[no-\])?([a-z0-9][a-z0-9.-]*)`)

// knownFlags returns the long flags `wattlens [command] --help` lists
// (for a command, global ones included), and the help text.
func knownFlags(t *testing.T, command ...string) (map[string]bool, string) {
	t.Helper()
	out, err := exec.Command(wattlensBinary(t), append(command, "--help")...).CombinedOutput()
	if err != nil {
		t.Fatalf("wattlens %s --help: %v\n%s", strings.Join(command, " "), err, out)
	}
	flags := map[string]bool{}
	for _, m := range longFlag.FindAllStringSubmatch(string(out), -1) {
		flags[m[1]] = true
	}
	if !flags["path.procfs"] {
		t.Fatalf("wattlens %s --help lists no --path.procfs: cannot read its flags\n%s", strings.Join(command, " "), out)
	}
	return flags, string(out)
}

// checkArgs checks that args is "<global flags> <command> <flags>", that
// the flags before the command are global ones, and that every flag is
// one the binary knows.
func checkArgs(t *testing.T, where string, args []string, command string) {
	t.Helper()
	global, _ := knownFlags(t)
	known, _ := knownFlags(t, command)
	i := slices.Index(args, command)
	if i < 0 {
		t.Fatalf("%s: no %q command in %q", where, command, args)
	}
	for j, a := range args {
		if j == i {
			continue
		}
		if !strings.HasPrefix(a, "--") {
			t.Errorf("%s: argument %q is not a long flag", where, a)
			continue
		}
		name, _, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		switch {
		case !known[name]:
			t.Errorf("%s: wattlens %s does not know the flag --%s", where, command, name)
		case j < i && !global[name]:
			t.Errorf("%s: --%s comes before %s but is not a global flag", where, name, command)
		}
	}
}

func readYAML(t *testing.T, path string, into any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, into); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
