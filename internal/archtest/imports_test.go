// Package archtest holds the test that keeps the data flowing one way:
// sensors → sampler → attribution → snapshot → exporters (see
// docs/architecture.md). It reads the import lines of every non-test Go
// file of the module and fails when a package imports across the flow.
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
	{"internal/attribution", []string{"internal/sensor/", "internal/sampler", "internal/exporter", "internal/procstat/", "internal/fdio", "internal/container", "internal/run", "internal/model", "cmd/"},
		"attribution is pure: two samples in, a snapshot out, no reader, no sensor implementation, no exporter"},
	{"internal/snapshot", []string{"internal/sensor/", "internal/sampler", "internal/attribution", "internal/exporter", "internal/fdio", "internal/run", "cmd/"},
		"the snapshot is a value: it knows nothing of who makes or reads it"},
	{"internal/exporter", []string{"internal/sensor/", "internal/sampler", "internal/attribution", "internal/run", "internal/model", "cmd/"},
		"exporters read snapshots; they never touch a sensor, the sampler or the books"},
	{"internal/sensor/", []string{"internal/exporter", "internal/sampler", "internal/attribution", "internal/snapshot", "internal/run", "cmd/"},
		"sensors know nothing of what is done with their readings"},
	{"internal/sampler", []string{"internal/exporter", "internal/sensor/", "internal/run", "cmd/"},
		"the sampler drives a sensor through its interface and hands snapshots on; it names no implementation and no exporter"},
	{"internal/procstat", []string{"internal/sampler", "internal/attribution", "internal/snapshot", "internal/sensor", "internal/exporter", "internal/run", "internal/container"},
		"process readers read the machine; they know nothing of who uses their figures"},
	{"internal/counter", []string{"internal/"}, "counter arithmetic depends on units only"},
	{"internal/units", []string{"internal/"}, "units depend on nothing"},
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
			for _, r := range rules {
				if !within(pkg, r.from) || isAllowed(pkg, im) {
					continue
				}
				for _, f := range r.forbidden {
					if within(im, f) && !within(im, pkg+"/") {
						bad = append(bad, pkg+" imports "+im+": "+r.why)
					}
				}
			}
		}
	}
	sort.Strings(bad)
	for _, b := range bad {
		t.Error(b)
	}
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

// TestRulesBite checks the checker on a made-up import: attribution
// importing a sensor implementation is caught, the registry naming one is
// not.
func TestRulesBite(t *testing.T) {
	caught := func(pkg, im string) bool {
		for _, r := range rules {
			if !within(pkg, r.from) || isAllowed(pkg, im) {
				continue
			}
			for _, f := range r.forbidden {
				if within(im, f) && !within(im, pkg+"/") {
					return true
				}
			}
		}
		return false
	}
	for _, tt := range []struct {
		pkg, im string
		want    bool
	}{
		{"internal/attribution", "internal/sensor/powercap", true},
		{"internal/attribution", "internal/sensor", false},
		{"internal/exporter/prometheus", "internal/sampler", true},
		{"internal/exporter/prometheus", "internal/exporter", false},
		{"internal/sensor/registry", "internal/sensor/msr", false},
		{"internal/sensor/msr", "internal/exporter/qemu", true},
		{"internal/units", "internal/counter", true},
		{"internal/run", "cmd/wattlens", true},
	} {
		if got := caught(tt.pkg, tt.im); got != tt.want {
			t.Errorf("%s importing %s: caught %v, want %v", tt.pkg, tt.im, got, tt.want)
		}
	}
}
