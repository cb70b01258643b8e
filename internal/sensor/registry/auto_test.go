package registry

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestAutoChoice(t *testing.T) {
	status := func(works ...string) []Status {
		ok := map[string]bool{}
		for _, w := range works {
			ok[w] = true
		}
		var out []Status
		for _, e := range Entries() {
			out = append(out, Status{Name: e.Name, Works: ok[e.Name]})
		}
		return out
	}
	entries := Entries()
	var cpu, add, manual []string
	for _, e := range entries {
		switch e.Auto {
		case "cpu":
			cpu = append(cpu, e.Name)
		case "add":
			add = append(add, e.Name)
		default:
			manual = append(manual, e.Name)
		}
	}
	if len(cpu) < 2 || len(add) < 1 || len(manual) < 1 {
		t.Fatalf("table changed shape: cpu %v, add %v, manual %v", cpu, add, manual)
	}
	tests := []struct {
		name  string
		works []string
		want  []string
	}{
		{"nothing works", nil, nil},
		{"first cpu sensor wins", cpu, cpu[:1]},
		{"second when the first fails", cpu[1:], cpu[1:2]},
		{"add sensors come on top", append(append([]string{}, add...), cpu[len(cpu)-1]), append([]string{cpu[len(cpu)-1]}, add...)},
		{"add sensors alone", add, add},
		{"sensors outside auto are never chosen", manual, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, AutoChoice(status(tt.works...))); diff != "" {
				t.Errorf("AutoChoice (-want +got):\n%s", diff)
			}
		})
	}
}
