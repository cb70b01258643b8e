package stdout

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/wattlens/wattlens/internal/container"
	"github.com/wattlens/wattlens/internal/procinfo"
	"github.com/wattlens/wattlens/internal/snapshot"
	"github.com/wattlens/wattlens/internal/snapshot/snapshottest"
	"github.com/wattlens/wattlens/internal/units"
)

const (
	webID = "3f1c2b6a9d8e7f60112233445566778899aabbccddeeff00112233445566778a"
	apiID = "9a8b7c6d5e4f30211223344556677889900aabbccddeeff0011223344556677b"
	dbID  = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
)

// containerFixture is fixture() with stress-ng in a Docker container
// "web", java in a pod's container whose names came after it was first
// seen, and a third, idle container whose process has exited.
func containerFixture() *snapshot.Snapshot {
	s := fixture()
	web := &container.Workload{Kind: container.KindContainer, Runtime: container.RuntimeDocker, ID: webID, Name: "web"}
	api := &container.Workload{Kind: container.KindContainer, Runtime: container.RuntimeContainerd, ID: apiID, PodUID: "7d4f3c2a-1b2c-4d5e-8f90-a1b2c3d4e5f6"}
	db := &container.Workload{Kind: container.KindContainer, ID: dbID}
	for i, w := range map[int]*container.Workload{0: web, 2: api} {
		m := *s.Processes[i].Meta
		m.Workload = w
		s.Processes[i].Meta = &m
	}
	s.Groups = []snapshot.Group{
		{Kind: "container", ID: webID, Workload: web, Energy: snapshottest.Energy(105_000_001, 30_000_003), Processes: 1, CPUDelta: time.Second},
		{Kind: "container", ID: apiID, Workload: api, Energy: snapshottest.Energy(40_000_011, 5_000_005), Processes: 1, CPUDelta: time.Second},
		{Kind: "container", ID: dbID, Workload: db, Energy: snapshottest.Energy(2_000_000, 0)},
		{Kind: "pod", ID: api.PodUID, Workload: api, Energy: snapshottest.Energy(40_000_011, 5_000_005), Processes: 1},
	}
	return s
}

func kubelet(id string) (name, pod, namespace string, ok bool) {
	if id == apiID {
		return "api", "api-7f9c4-x2x9k", "shop", true
	}
	return "", "", "", false
}

func TestGoldenContainers(t *testing.T) {
	tests := []struct {
		name string
		opts Options
	}{
		{"containers", Options{Processes: 4, Containers: true, Names: kubelet}},
		{"containers_top1", Options{Processes: 1, Containers: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := renderString(t, containerFixture(), tt.opts)
			path := filepath.Join("testdata", tt.name+".txt")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
			for _, l := range strings.Split(got, "\n") {
				if n := utf8.RuneCountInString(l); n > DefaultWidth {
					t.Errorf("line of %d runes, wider than %d: %q", n, DefaultWidth, l)
				}
			}
		})
	}
}

func TestNoContainersSaysSo(t *testing.T) {
	got := renderString(t, fixture(), Options{Containers: true})
	if !strings.Contains(got, "\nNo containers\n") {
		t.Errorf("no containers, not said:\n%s", got)
	}
	if !regexp.MustCompile(`pid  kind +container  exe`).MatchString(got) {
		t.Errorf("no container column:\n%s", got)
	}
	if plain := renderString(t, fixture(), Options{}); strings.Contains(plain, "container") {
		t.Errorf("container output without Containers:\n%s", plain)
	}
}

// TestContainerRestBalances: the listed containers, the rest line and
// idle add up to the host, whatever the number listed.
func TestContainerRestBalances(t *testing.T) {
	s := containerFixture()
	for n := 0; n <= 3; n++ {
		var b strings.Builder
		b.WriteString(renderString(t, s, Options{Processes: n, Containers: true}))
		var listed units.Energy
		head := s.Groups[:3]
		if n > 0 {
			head = head[:n]
		}
		for _, g := range head {
			listed += g.Total
		}
		rest := sub(s.Host.Total, s.Idle.Total, listed)
		if listed+rest+s.Idle.Total != s.Host.Total {
			t.Errorf("n=%d: listed %d + rest %d + idle %d ≠ host %d", n, listed, rest, s.Idle.Total, s.Host.Total)
		}
		if !strings.Contains(b.String(), formatEnergy(rest)) {
			t.Errorf("n=%d: rest %s not shown:\n%s", n, formatEnergy(rest), b.String())
		}
	}
}

func TestHostileContainerNames(t *testing.T) {
	s := containerFixture()
	names := func(string) (string, string, string, bool) {
		return "\x1b[2J\x1b[Hname\u202e", "pod\n\x9b31m", "ns", true
	}
	got := renderString(t, s, Options{Containers: true, Names: names})
	for _, r := range got {
		if r != '\n' && !unicode.IsPrint(r) {
			t.Errorf("unprintable %U in output:\n%q", r, got)
		}
	}
	if !strings.Contains(got, `pod\x0a\x9b31m/\x1b[2J\x1b[Hname\u202e`) {
		t.Errorf("names not shown escaped:\n%s", got)
	}
	if n, want := strings.Count(got, "\n"), strings.Count(renderString(t, s, Options{Containers: true, Names: kubelet}), "\n"); n != want {
		t.Errorf("%d lines, want %d: a name broke a line:\n%s", n, want, got)
	}
}

func TestContainerCell(t *testing.T) {
	long := &container.Workload{Kind: container.KindContainer, ID: webID, Name: strings.Repeat("n", 50)}
	tests := []struct {
		name     string
		workload any
		want     string
	}{
		{"none", nil, ""},
		{"service", &container.Workload{Kind: container.KindService, ID: "nginx.service"}, ""},
		{"other workload type", procinfo.Meta{}, ""},
		{"named", &container.Workload{Kind: container.KindContainer, ID: webID, Name: "web"}, "web"},
		{"not named yet", &container.Workload{Kind: container.KindContainer, ID: webID}, "3f1c2b6a9d8e"},
		{"pod", &container.Workload{Kind: container.KindContainer, ID: webID, Name: "api", Pod: "api-1"}, "api-1/api"},
		{"long", long, strings.Repeat("n", maxContainer-1) + "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := containerCell(tt.workload, nil); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
