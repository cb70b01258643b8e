package deploy

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var fromLine = regexp.MustCompile(`(?im)^FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?\s*$`)

func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	src := string(b)
	var stages, images []string
	for _, m := range fromLine.FindAllStringSubmatch(src, -1) {
		images = append(images, m[1])
		stages = append(stages, strings.ToLower(m[2]))
	}
	if diff := cmp.Diff([]string{"build", "build-gpu", "gpu", "static"}, stages); diff != "" {
		t.Fatalf("stages (-want +got):\n%s", diff)
	}
	// The last stage is what a plain `docker build` makes.
	for i, want := range map[int]string{2: "gcr.io/distroless/base-", 3: "gcr.io/distroless/static-"} {
		if !strings.HasPrefix(images[i], want) || !strings.HasSuffix(images[i], ":nonroot") {
			t.Errorf("stage %s is FROM %s, want %s…:nonroot", stages[i], images[i], want)
		}
	}
	for _, m := range regexp.MustCompile(`COPY --from=(\S+)`).FindAllStringSubmatch(src, -1) {
		if !slices.Contains(stages, m[1]) {
			t.Errorf("COPY --from=%s: no such stage", m[1])
		}
	}
	var got []string
	for _, ins := range instructions(src) {
		if !strings.HasPrefix(ins, "RUN ") || !strings.Contains(ins, " go build ") {
			continue
		}
		cgo := regexp.MustCompile(`CGO_ENABLED=(\d)`).FindStringSubmatch(ins)
		fields := strings.Fields(ins)
		if cgo == nil {
			t.Errorf("go build without CGO_ENABLED: %s", ins)
			continue
		}
		got = append(got, "CGO_ENABLED="+cgo[1]+" "+fields[len(fields)-1])
	}
	if diff := cmp.Diff([]string{"CGO_ENABLED=0 ./cmd/wattlens", "CGO_ENABLED=1 ./cmd/wattlens"}, got); diff != "" {
		t.Errorf("go build commands (-want +got):\n%s", diff)
	}
	if _, err := os.Stat("../cmd/wattlens/main.go"); err != nil {
		t.Errorf("the build path: %v", err)
	}
	if n := strings.Count(src, "\nUSER nonroot:nonroot\n"); n != 2 {
		t.Errorf("%d final stages set USER nonroot:nonroot, want 2", n)
	}
	if n := strings.Count(src, "\nEXPOSE 29288\n"); n != 2 {
		t.Errorf("%d final stages EXPOSE 29288, want 2", n)
	}

	t.Run("dockerignore", func(t *testing.T) {
		ign, err := os.ReadFile("../.dockerignore")
		if err != nil {
			t.Fatal(err)
		}
		for line := range strings.Lines(string(ign)) {
			line = strings.TrimSpace(line)
			for _, needed := range []string{"go.mod", "go.sum", "cmd", "internal"} {
				if strings.TrimSuffix(strings.TrimPrefix(line, "/"), "/") == needed {
					t.Errorf(".dockerignore leaves out %s, which the build needs", needed)
				}
			}
		}
	})

	t.Run("default port", func(t *testing.T) {
		_, help := knownFlags(t, "prometheus")
		if !regexp.MustCompile(`--web\.listen-address="?:29288[" ]`).MatchString(help) {
			t.Errorf("wattlens prometheus --help does not give :29288 as the default listen address; update the port in the Dockerfile, chart, compose and docs\n%s", help)
		}
	})
}

// instructions returns a Dockerfile's instructions, continuation lines
// joined, comments left out.
func instructions(src string) []string {
	var out []string
	cur := ""
	for line := range strings.Lines(src) {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "#") || (line == "" && cur == "") {
			continue
		}
		if c, ok := strings.CutSuffix(line, "\\"); ok {
			cur += c + " "
			continue
		}
		out = append(out, strings.Join(strings.Fields(cur+line), " "))
		cur = ""
	}
	return out
}
