package qemuargs

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseOpts(t *testing.T) {
	tests := []struct {
		in   string
		want Opts
	}{
		{"guest=vm1,debug-threads=on", Opts{{Key: "guest", Value: "vm1"}, {Key: "debug-threads", Value: "on"}}},
		{"vm1", Opts{{Key: "guest", Value: "vm1", Implied: true}}},
		{"vm1,process=p", Opts{{Key: "guest", Value: "vm1", Implied: true}, {Key: "process", Value: "p"}}},
		{"a,,b,process=p", Opts{{Key: "guest", Value: "a,b", Implied: true}, {Key: "process", Value: "p"}}},
		{"guest=a,,,,b", Opts{{Key: "guest", Value: "a,,b"}}},
		{"guest=x,debug-threads", Opts{{Key: "guest", Value: "x"}, {Key: "debug-threads", Value: "on"}}},
		{"", Opts{{Key: "guest", Value: "", Implied: true}}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, ParseOpts(tt.in)); diff != "" {
				t.Errorf("ParseOpts(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestSplitJoined(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string
	}{
		{"plain", "qemu-system-x86_64 -name vm1 -S -m 512", []string{"qemu-system-x86_64", "-name", "vm1", "-S", "-m", "512"}},
		{"value with spaces", "qemu-system-x86_64 -name guest=my big vm,debug-threads=on -S", []string{"qemu-system-x86_64", "-name", "guest=my big vm,debug-threads=on", "-S"}},
		{"positional after argv0", "kvm disk.img -m 1", []string{"kvm", "disk.img", "-m", "1"}},
		{"empty", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, SplitJoined(tt.in)); diff != "" {
				t.Errorf("SplitJoined mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValue(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		opt   string
		want  string
		found bool
	}{
		{"single dash", []string{"kvm", "-id", "100", "-name", "web"}, "id", "100", true},
		{"double dash", []string{"qemu-system-x86_64", "--name", "web"}, "name", "web", true},
		{"last one wins", []string{"kvm", "-name", "a", "-name", "b"}, "name", "b", true},
		{"option without a value", []string{"kvm", "-m", "1", "-name"}, "name", "", false},
		{"argv0 is not an option", []string{"-name", "x"}, "name", "", false},
		{"absent", []string{"kvm", "-m", "1"}, "name", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, found := Value(tt.args, tt.opt)
			if got != tt.want || found != tt.found {
				t.Errorf("Value(%q, %q) = %q, %v; want %q, %v", tt.args, tt.opt, got, found, tt.want, tt.found)
			}
		})
	}
}

// FuzzParseOpts: any option string parses, and the options it gives,
// written back with commas escaped, parse to the same options.
func FuzzParseOpts(f *testing.F) {
	for _, s := range []string{
		"guest=vm1,debug-threads=on", "vm1,process=p", "a,,b,process=p", "guest=a,,,,b",
		"guest=x,debug-threads", "", "a,,b=c", "=v", "x=1,", ",,,",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		opts := ParseOpts(s)
		if len(opts) == 0 {
			t.Fatalf("ParseOpts(%q) gave no element", s)
		}
		if again := ParseOpts(format(opts)); !cmp.Equal(opts, again) {
			t.Fatalf("ParseOpts(%q) = %+v; written as %q it parses to %+v", s, opts, format(opts), again)
		}
	})
}

// format writes opts as a QemuOpts string: ',' in keys and values
// doubled, the implied element as its bare value.
func format(opts Opts) string {
	esc := func(s string) string { return strings.ReplaceAll(s, ",", ",,") }
	parts := make([]string, len(opts))
	for i, o := range opts {
		if o.Implied {
			parts[i] = esc(o.Value)
		} else {
			parts[i] = esc(o.Key) + "=" + esc(o.Value)
		}
	}
	return strings.Join(parts, ",")
}
