// Package archtest holds the test that keeps the data flowing one way:
// sensors → sampler → attribution → snapshot → exporters (see
// docs/architecture.md). It reads the import lines of every non-test Go
// file of the module and fails when a package imports across the flow, or
// imports a test helper (a package named <something>test) without being
// one.
package archtest

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/wattlens/wattlens/"

// rule forbids the packages matching from (a prefix, relative to the
// module) to import any package matching one of the forbidden prefixes.
type rule struct {
	from      string
	forbidden []string
	why       string
}

// sensorImpls, exporterImpls: the plugin packages below the interface
// packages.
var rules = []rule{
	{"internal/attribution", []string{"internal/sensor", "internal/sampler", "internal/exporter", "internal/procstat", "internal/fdio", "internal/container", "internal/machine", "internal/run", "internal/model", "cmd/"},
		"attribution is pure: two samples in, a snapshot out; it reads the vocabulary (procinfo, power), no reader, no sensor, no exporter"},
	{"internal/snapshot", []string{"internal/sensor", "internal/procstat", "internal/sampler", "internal/attribution", "internal/exporter", "internal/fdio", "internal/machine", "internal/run", "cmd/"},
		"the snapshot is a value: it knows nothing of who makes or reads it"},
	{"internal/exporter", []string{"internal/sensor", "internal/procstat", "internal/sampler", "internal/attribution", "internal/machine", "internal/run", "internal/model", "cmd/"},
		"exporters read snapshots; they never touch a reader, a sensor, the sampler or attribution's accounts"},
	{"internal/sensor/", []string{"internal/exporter", "internal/sampler", "internal/attribution", "internal/snapshot", "internal/run", "cmd/"},
		"sensors know nothing of what is done with their readings"},
	{"internal/sampler", []string{"internal/exporter", "internal/sensor/", "internal/run", "cmd/"},
		"the sampler drives a sensor through its interface and hands snapshots on; it names no implementation and no exporter"},
	{"internal/procstat", []string{"internal/sampler", "internal/attribution", "internal/snapshot", "internal/sensor", "internal/exporter", "internal/run", "internal/container"},
		"process readers read the machine; they know nothing of who uses their figures"},
	{"internal/counter", []string{"internal/"}, "counter arithmetic depends on units only"},
	{"internal/units", []string{"internal/"}, "units depend on nothing"},
	{"internal/procinfo", []string{"internal/"}, "the vocabulary of processes depends on nothing of the project: readers produce it, everyone reads it"},
	{"internal/power", []string{"internal/"}, "the vocabulary of a measurement depends on units only: sensors produce it, everyone reads it"},
	{"internal/machine", []string{"internal/"}, "the machine reader reads files below its roots: it depends on nothing of the project"},
	{"internal/vmshare", []string{"internal/"}, "the VM-share contract is what both sides read: it depends on neither, nor on anything else"},
	{"internal/ascii", []string{"internal/"}, "byte tests on ASCII text depend on nothing"},
	{"internal/platformfit", []string{"internal/"}, "the wall-meter regression is arithmetic on numbers it is given: it depends on nothing of the project"},
	{"internal/vmdetect/qemuargs", []string{"internal/"}, "qemu's command-line grammar depends on nothing of the project"},
	{"internal/", []string{"cmd/"}, "only main wires packages together"},
}

// allowed lists imports a rule would forbid but that are the flow's own
// direction: the sensor registry names every implementation, a sensor's
// test helpers are below it, and the powercap reader serves the vm sensor
// (a share is a powercap tree).
var allowed = map[string][]string{
	"internal/sensor/registry": {"internal/sensor/"},
	"internal/sensor/vm":       {"internal/sensor/powercap"},
	"internal/sensor/redfish":  {"internal/sensor/redfish/"},
	"internal/counter":         {"internal/units"},
	"internal/power":           {"internal/units"},
}

func TestImportsFollowTheFlow(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	imports := map[string]map[string]bool{} // package dir → imported module packages
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); n == "testdata" || n == "node_modules" || strings.HasPrefix(n, ".") && path != root {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		rel = filepath.ToSlash(rel)
		if imports[rel] == nil {
			imports[rel] = map[string]bool{}
		}
		for _, im := range f.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			if q, ok := strings.CutPrefix(p, module); ok {
				imports[rel][q] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(imports) < 20 {
		t.Fatalf("found %d packages under %s: not the module's tree", len(imports), root)
	}
	var bad []string
	for pkg, ims := range imports {
		for im := range ims {
			for _, why := range violations(pkg, im) {
				bad = append(bad, pkg+" imports "+im+": "+why)
			}
		}
	}
	sort.Strings(bad)
	for _, b := range bad {
		t.Error(b)
	}
}

// violations returns why the non-test files of pkg may not import im:
// one reason per rule broken, none when the import follows the flow.
func violations(pkg, im string) []string {
	var why []string
	for _, r := range rules {
		if !within(pkg, r.from) || isAllowed(pkg, im) {
			continue
		}
		for _, f := range r.forbidden {
			if within(im, f) && !within(im, pkg+"/") {
				why = append(why, r.why)
			}
		}
	}
	if isTestHelper(im) && !isTestHelper(pkg) {
		why = append(why, "a test helper is for _test.go files and other test helpers only")
	}
	return why
}

// isTestHelper reports whether pkg is a test-helper package or below one
// (a command it builds for tests): a path element named <something>test,
// as powercaptest, snapshottest, polltest. The helpers hold fakes and
// fixtures, not code the agent may run.
func isTestHelper(pkg string) bool {
	for el := range strings.SplitSeq(pkg, "/") {
		if len(el) > len("test") && strings.HasSuffix(el, "test") {
			return true
		}
	}
	return false
}

// within reports whether pkg is prefix itself (prefix without a trailing
// slash) or below it.
func within(pkg, prefix string) bool {
	if strings.HasSuffix(prefix, "/") {
		return strings.HasPrefix(pkg+"/", prefix) && pkg+"/" != prefix
	}
	return pkg == prefix || strings.HasPrefix(pkg, prefix+"/")
}

func isAllowed(pkg, im string) bool {
	for p, ims := range allowed {
		if !within(pkg, p) {
			continue
		}
		for _, a := range ims {
			if within(im, a) {
				return true
			}
		}
	}
	return false
}

// TestRulesBite checks the checker on made-up imports: attribution
// importing a sensor implementation is caught, the registry naming one is
// not; agent code importing a test helper is caught, a helper's own
// command is not.
func TestRulesBite(t *testing.T) {
	caught := func(pkg, im string) bool { return len(violations(pkg, im)) > 0 }
	for _, tt := range []struct {
		pkg, im string
		want    bool
	}{
		{"internal/attribution", "internal/sensor/powercap", true},
		{"internal/exporter/promexp", "internal/sampler", true},
		{"internal/exporter/promexp", "internal/exporter", false},
		{"internal/sensor/registry", "internal/sensor/msr", false},
		{"internal/sensor/msr", "internal/exporter/qemu", true},
		{"internal/units", "internal/counter", true},
		{"internal/vmshare", "internal/units", true},
		{"internal/machine", "internal/model", true},
		{"internal/attribution", "internal/machine", true},
		{"internal/sensor/estimate", "internal/machine", false},
		{"internal/run", "cmd/wattlens", true},
		{"internal/attribution", "internal/procstat", true},
		{"internal/attribution", "internal/sensor", true},
		{"internal/snapshot", "internal/sensor", true},
		{"internal/exporter/stdout", "internal/procstat", true},
		{"internal/exporter/promexp", "internal/sensor", true},
		{"internal/attribution", "internal/procinfo", false},
		{"internal/exporter/otlp", "internal/power", false},
		{"internal/procinfo", "internal/units", true},
		{"internal/power", "internal/units", false},
		{"internal/power", "internal/sensor", true},
		{"internal/ascii", "internal/units", true},
		{"internal/vmdetect/qemuargs", "internal/vmdetect", true},
		{"internal/vmdetect", "internal/vmdetect/qemuargs", false},
		{"internal/exporter/promexp", "internal/snapshot/snapshottest", true},
		{"internal/sampler", "internal/polltest", true},
		{"cmd/wattlens", "internal/sensor/powercap/powercaptest", true},
		{"internal/sensor/powercap/powercaptest/cmd/fakerapl", "internal/sensor/powercap/powercaptest", false},
		{"internal/attribution/attributiontest", "internal/snapshot/snapshottest", false},
		{"test/e2e", "internal/container", false},
	} {
		if got := caught(tt.pkg, tt.im); got != tt.want {
			t.Errorf("%s importing %s: caught %v, want %v", tt.pkg, tt.im, got, tt.want)
		}
	}
}
