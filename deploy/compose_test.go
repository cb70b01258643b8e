package deploy

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

type composeFile struct {
	Services map[string]struct {
		Image       string   `yaml:"image"`
		User        string   `yaml:"user"`
		Privileged  bool     `yaml:"privileged"`
		PID         string   `yaml:"pid"`
		Command     []string `yaml:"command"`
		Volumes     []string `yaml:"volumes"`
		Ports       []string `yaml:"ports"`
		CapDrop     []string `yaml:"cap_drop"`
		ReadOnly    bool     `yaml:"read_only"`
		SecurityOpt []string `yaml:"security_opt"`
		Build       *struct {
			Context string `yaml:"context"`
			Target  string `yaml:"target"`
		} `yaml:"build"`
	} `yaml:"services"`
	Volumes map[string]any `yaml:"volumes"`
}

func TestCompose(t *testing.T) {
	var cf composeFile
	readYAML(t, "compose/compose.yaml", &cf)

	var names []string
	for n := range cf.Services {
		names = append(names, n)
	}
	slices.Sort(names)
	if diff := cmp.Diff([]string{"grafana", "prometheus", "wattlens"}, names); diff != "" {
		t.Fatalf("services (-want +got):\n%s", diff)
	}

	// Every bind mount with a relative source must point at a file of this
	// repository; named volumes must be declared.
	for name, s := range cf.Services {
		for _, v := range s.Volumes {
			src, _, _ := strings.Cut(v, ":")
			switch {
			case strings.HasPrefix(src, "."):
				if _, err := os.Stat(filepath.Join("compose", src)); err != nil {
					t.Errorf("service %s mounts %s: %v", name, src, err)
				}
			case !strings.HasPrefix(src, "/"):
				if _, ok := cf.Volumes[src]; !ok {
					t.Errorf("service %s uses volume %q, not declared", name, src)
				}
			}
		}
	}

	w := cf.Services["wattlens"]
	t.Run("wattlens", func(t *testing.T) {
		for _, v := range []string{"/proc:/host/proc:ro", "/sys:/host/sys:ro"} {
			if !slices.Contains(w.Volumes, v) {
				t.Errorf("volumes %q lack %s", w.Volumes, v)
			}
		}
		if w.Privileged || w.PID == "host" {
			t.Errorf("privileged %v, pid %q: want neither", w.Privileged, w.PID)
		}
		if !slices.Equal(w.CapDrop, []string{"ALL"}) || !w.ReadOnly {
			t.Errorf("cap_drop %q, read_only %v: want [ALL] and true", w.CapDrop, w.ReadOnly)
		}
		if w.Build == nil || w.Build.Target != "static" {
			t.Errorf("build %+v: want the Dockerfile's static target", w.Build)
		} else if _, err := os.Stat(filepath.Join("compose", w.Build.Context, "Dockerfile")); err != nil {
			t.Errorf("build context: %v", err)
		}
		if !slices.Contains(w.Ports, "29288:29288") {
			t.Errorf("ports %q do not publish 29288", w.Ports)
		}
		checkArgs(t, "compose command", w.Command, "prometheus")
	})

	t.Run("prometheus scrapes wattlens", func(t *testing.T) {
		var pc struct {
			ScrapeConfigs []struct {
				JobName       string `yaml:"job_name"`
				StaticConfigs []struct {
					Targets []string `yaml:"targets"`
				} `yaml:"static_configs"`
			} `yaml:"scrape_configs"`
		}
		readYAML(t, "compose/prometheus.yml", &pc)
		found := false
		for _, sc := range pc.ScrapeConfigs {
			for _, st := range sc.StaticConfigs {
				found = found || slices.Contains(st.Targets, "wattlens:29288")
			}
		}
		if !found {
			t.Errorf("no scrape target wattlens:29288 in %+v", pc.ScrapeConfigs)
		}
		if !slices.Contains(cf.Services["prometheus"].Volumes, "./prometheus.yml:/etc/prometheus/prometheus.yml:ro") {
			t.Error("prometheus.yml is not mounted into the prometheus service")
		}
		promtool, err := exec.LookPath("promtool")
		if err != nil {
			t.Log("promtool not found: prometheus.yml and the rules are parsed, not checked")
			return
		}
		// The configuration as the container sees it: the rule files that
		// compose.yaml mounts under /etc/prometheus/rules/ copied into a
		// directory that stands for it, so that promtool checks them too.
		dir := t.TempDir()
		rulesCopy := filepath.Join(dir, "rules")
		if err := os.Mkdir(rulesCopy, 0o755); err != nil {
			t.Fatal(err)
		}
		conf, err := os.ReadFile("compose/prometheus.yml")
		if err != nil {
			t.Fatal(err)
		}
		const rulesDir = "/etc/prometheus/rules/"
		if !bytes.Contains(conf, []byte(rulesDir)) {
			t.Fatalf("prometheus.yml loads no rule files from %s", rulesDir)
		}
		rules := 0
		for _, v := range cf.Services["prometheus"].Volumes {
			src, rest, _ := strings.Cut(v, ":")
			target, _, _ := strings.Cut(rest, ":")
			if name, ok := strings.CutPrefix(target, rulesDir); ok {
				b, err := os.ReadFile(filepath.Join("compose", src))
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(rulesCopy, name), b, 0o644); err != nil {
					t.Fatal(err)
				}
				rules++
			}
		}
		if rules == 0 {
			t.Errorf("the prometheus service mounts no rule file under %s", rulesDir)
		}
		conf = bytes.ReplaceAll(conf, []byte(rulesDir), []byte(rulesCopy+"/"))
		path := filepath.Join(dir, "prometheus.yml")
		if err := os.WriteFile(path, conf, 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(promtool, "check", "config", path).CombinedOutput()
		if err != nil || !bytes.Contains(out, []byte("rules found")) {
			t.Errorf("promtool check config (with the mounted rules): %v\n%s", err, out)
		}
	})

	t.Run("grafana provisioning", func(t *testing.T) {
		var ds struct {
			Datasources []struct {
				Type string `yaml:"type"`
				URL  string `yaml:"url"`
			} `yaml:"datasources"`
		}
		readYAML(t, "compose/grafana/provisioning/datasources/prometheus.yaml", &ds)
		if len(ds.Datasources) != 1 || ds.Datasources[0].Type != "prometheus" || ds.Datasources[0].URL != "http://prometheus:9090" {
			t.Errorf("datasources %+v: want the prometheus service", ds.Datasources)
		}
		var dp struct {
			Providers []struct {
				Type    string `yaml:"type"`
				Options struct {
					Path string `yaml:"path"`
				} `yaml:"options"`
			} `yaml:"providers"`
		}
		readYAML(t, "compose/grafana/provisioning/dashboards/wattlens.yaml", &dp)
		const dashboard = "../grafana/wattlens.json"
		var target string
		for _, v := range cf.Services["grafana"].Volumes {
			if src, rest, _ := strings.Cut(v, ":"); src == dashboard {
				target, _, _ = strings.Cut(rest, ":")
			}
		}
		if target == "" {
			t.Fatalf("grafana does not mount %s", dashboard)
		}
		if len(dp.Providers) != 1 || dp.Providers[0].Type != "file" || dp.Providers[0].Options.Path != filepath.Dir(target) {
			t.Errorf("dashboard providers %+v do not load %s", dp.Providers, target)
		}
	})
}
