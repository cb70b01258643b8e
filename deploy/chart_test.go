package deploy

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestChartDefaults(t *testing.T) {
	objs := parseObjects(t, render(t))

	want := []string{"ClusterRole", "ClusterRoleBinding", "DaemonSet", "Namespace", "Service", "ServiceAccount"}
	if diff := cmp.Diff(want, kinds(objs)); diff != "" {
		t.Errorf("kinds rendered (-want +got):\n%s", diff)
	}

	var ds daemonSet
	decode(t, only(t, objs, "DaemonSet"), &ds)
	pod := ds.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]

	t.Run("host mounts", func(t *testing.T) {
		hostPaths := map[string]string{}
		for _, v := range pod.Volumes {
			if v.HostPath != nil {
				hostPaths[v.Name] = v.HostPath.Path
			}
		}
		mounts := map[string]string{} // mount path → host path
		for _, m := range c.VolumeMounts {
			hp, ok := hostPaths[m.Name]
			if !ok {
				continue
			}
			if !m.ReadOnly {
				t.Errorf("hostPath %s mounted at %s is not readOnly", hp, m.MountPath)
			}
			mounts[m.MountPath] = hp
		}
		want := map[string]string{"/host/proc": "/proc", "/host/sys": "/sys"}
		if diff := cmp.Diff(want, mounts); diff != "" {
			t.Errorf("hostPath mounts (-want +got):\n%s", diff)
		}
	})

	t.Run("args", func(t *testing.T) {
		i := slices.Index(c.Args, "prometheus")
		if i < 0 {
			t.Fatalf("no prometheus command in %q", c.Args)
		}
		global, exporter := c.Args[:i], c.Args[i+1:]
		for _, a := range []string{"--path.procfs=/host/proc", "--path.sysfs=/host/sys"} {
			if !slices.Contains(global, a) {
				t.Errorf("global flags %q lack %s", global, a)
			}
		}
		if !slices.Contains(exporter, "--web.listen-address=:29288") {
			t.Errorf("exporter flags %q lack --web.listen-address=:29288", exporter)
		}
		if slices.ContainsFunc(c.Args, func(a string) bool { return strings.HasPrefix(a, "--path.devfs") }) {
			t.Errorf("--path.devfs passed without msr.enabled: %q", c.Args)
		}
		if !slices.Contains(global, "--cpu-source=procfs") {
			t.Errorf("global flags %q lack --cpu-source=procfs: without ebpf.enabled the container may not load BPF programs", global)
		}
	})

	t.Run("downward API", func(t *testing.T) {
		got := map[string]string{}
		for _, e := range c.Env {
			if e.ValueFrom != nil && e.ValueFrom.FieldRef != nil {
				got[e.Name] = e.ValueFrom.FieldRef.FieldPath
			}
		}
		want := map[string]string{"NODE_NAME": "spec.nodeName", "HOST_IP": "status.hostIP"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("env from fieldRef (-want +got):\n%s", diff)
		}
	})

	t.Run("security context", func(t *testing.T) {
		sc := c.SecurityContext
		if sc.Privileged == nil || *sc.Privileged {
			t.Error("privileged is not false")
		}
		// A non-root user with CAP_PERFMON for perf_rapl: the capability
		// comes from the binary's file capabilities, which no_new_privs
		// (allowPrivilegeEscalation: false) would withhold.
		if sc.AllowPrivilegeEscalation == nil || !*sc.AllowPrivilegeEscalation {
			t.Error("allowPrivilegeEscalation is not true: the binary's file capabilities would not be granted")
		}
		if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			t.Error("readOnlyRootFilesystem is not true")
		}
		if sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []string{"ALL"}) || !slices.Equal(sc.Capabilities.Add, []string{"PERFMON"}) {
			t.Errorf("capabilities %+v, want drop [ALL] and add [PERFMON] (perf_rapl)", sc.Capabilities)
		}
		if sc.RunAsUser == nil || *sc.RunAsUser != 65532 || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
			t.Error("runAsUser is not 65532 with runAsNonRoot")
		}
		if pod.HostPID || pod.HostNetwork {
			t.Errorf("hostPID %v, hostNetwork %v: want both false", pod.HostPID, pod.HostNetwork)
		}
	})

	t.Run("every node", func(t *testing.T) {
		if !slices.ContainsFunc(pod.Tolerations, func(tl toleration) bool { return tl.Operator == "Exists" && tl.Key == "" }) {
			t.Errorf("tolerations %+v do not tolerate every taint", pod.Tolerations)
		}
		if c.Resources.Requests["cpu"] == "" || c.Resources.Requests["memory"] == "" {
			t.Errorf("no cpu or memory request: %+v", c.Resources)
		}
	})

	t.Run("rbac", func(t *testing.T) {
		var cr clusterRole
		decode(t, only(t, objs, "ClusterRole"), &cr)
		var granted []string
		for _, r := range cr.Rules {
			for _, res := range r.Resources {
				for _, v := range r.Verbs {
					granted = append(granted, res+":"+v)
				}
			}
		}
		if diff := cmp.Diff([]string{"nodes/pods:get"}, granted); diff != "" {
			t.Errorf("kubelet mode grants (-want +got):\n%s", diff)
		}
		var rb roleBinding
		decode(t, only(t, objs, "ClusterRoleBinding"), &rb)
		sa := only(t, objs, "ServiceAccount").Metadata.Name
		if rb.RoleRef.Name != only(t, objs, "ClusterRole").Metadata.Name ||
			len(rb.Subjects) != 1 || rb.Subjects[0].Name != sa || rb.Subjects[0].Namespace != namespace {
			t.Errorf("binding %+v does not bind the ClusterRole to ServiceAccount %s/%s", rb, namespace, sa)
		}
		if pod.ServiceAccountName != sa {
			t.Errorf("pod's serviceAccountName %q, want %q", pod.ServiceAccountName, sa)
		}
		if pod.AutomountServiceAccountToken == nil || !*pod.AutomountServiceAccountToken {
			t.Error("kubelet mode needs the token mounted")
		}
	})

	t.Run("service", func(t *testing.T) {
		var svc service
		so := only(t, objs, "Service")
		decode(t, so, &svc)
		if svc.Spec.ClusterIP != "None" {
			t.Errorf("clusterIP %q, want None (headless)", svc.Spec.ClusterIP)
		}
		if diff := cmp.Diff(ds.Spec.Selector.MatchLabels, svc.Spec.Selector); diff != "" {
			t.Errorf("Service selector differs from the DaemonSet's (-ds +svc):\n%s", diff)
		}
		if len(svc.Spec.Ports) != 1 || len(c.Ports) != 1 ||
			svc.Spec.Ports[0].Port != c.Ports[0].ContainerPort || svc.Spec.Ports[0].TargetPort != c.Ports[0].Name {
			t.Errorf("Service ports %+v do not match container ports %+v", svc.Spec.Ports, c.Ports)
		}
		wantAnn := map[string]string{"prometheus.io/scrape": "true", "prometheus.io/port": "29288", "prometheus.io/path": "/metrics"}
		if diff := cmp.Diff(wantAnn, so.Metadata.Annotations); diff != "" {
			t.Errorf("Service annotations (-want +got):\n%s", diff)
		}
	})

	t.Run("flags known to the binary", func(t *testing.T) {
		checkArgs(t, "DaemonSet args", c.Args, "prometheus")
	})
}

func TestChartServiceMonitor(t *testing.T) {
	objs := parseObjects(t, render(t, "--set", "serviceMonitor.enabled=true"))
	smo := only(t, objs, "ServiceMonitor")
	if smo.APIVersion != "monitoring.coreos.com/v1" {
		t.Errorf("ServiceMonitor apiVersion %q", smo.APIVersion)
	}
	var sm serviceMonitor
	decode(t, smo, &sm)
	svc := only(t, objs, "Service")
	for k, v := range sm.Spec.Selector.MatchLabels {
		if svc.Metadata.Labels[k] != v {
			t.Errorf("ServiceMonitor selects %s=%s; the Service has %s=%q", k, v, k, svc.Metadata.Labels[k])
		}
	}
	var s service
	decode(t, svc, &s)
	if len(sm.Spec.Endpoints) != 1 || len(s.Spec.Ports) != 1 ||
		sm.Spec.Endpoints[0].Port != s.Spec.Ports[0].Name || sm.Spec.Endpoints[0].Path != "/metrics" {
		t.Errorf("endpoints %+v do not scrape the Service's port %+v at /metrics", sm.Spec.Endpoints, s.Spec.Ports)
	}
}

func TestChartVariants(t *testing.T) {
	grants := func(t *testing.T, objs []object) []string {
		var out []string
		for _, o := range objs {
			if o.Kind != "ClusterRole" {
				continue
			}
			var cr clusterRole
			decode(t, o, &cr)
			for _, r := range cr.Rules {
				for _, res := range r.Resources {
					for _, v := range r.Verbs {
						out = append(out, res+":"+v)
					}
				}
			}
		}
		return out
	}
	pod := func(t *testing.T, objs []object) podSpec {
		var ds daemonSet
		decode(t, only(t, objs, "DaemonSet"), &ds)
		return ds.Spec.Template.Spec
	}

	t.Run("apiServer", func(t *testing.T) {
		objs := parseObjects(t, render(t, "--set", "containers.source=apiServer"))
		if diff := cmp.Diff([]string{"pods:list"}, grants(t, objs)); diff != "" {
			t.Errorf("grants (-want +got):\n%s", diff)
		}
	})
	t.Run("nodesProxy", func(t *testing.T) {
		objs := parseObjects(t, render(t, "--set", "rbac.nodesProxy=true"))
		if diff := cmp.Diff([]string{"nodes/pods:get", "nodes/proxy:get"}, grants(t, objs)); diff != "" {
			t.Errorf("grants (-want +got):\n%s", diff)
		}
	})
	t.Run("no container names", func(t *testing.T) {
		objs := parseObjects(t, render(t, "--set", "containers.source=none"))
		if g := grants(t, objs); len(g) > 0 {
			t.Errorf("grants %q without a pod source", g)
		}
		if slices.Contains(kinds(objs), "ClusterRoleBinding") {
			t.Error("a ClusterRoleBinding without a pod source")
		}
		p := pod(t, objs)
		if p.AutomountServiceAccountToken == nil || *p.AutomountServiceAccountToken {
			t.Error("the token is mounted without a pod source")
		}
	})
	t.Run("msr", func(t *testing.T) {
		objs := parseObjects(t, render(t, "--set", "msr.enabled=true"))
		c := pod(t, objs).Containers[0]
		if c.SecurityContext.Privileged == nil || !*c.SecurityContext.Privileged {
			t.Error("msr.enabled: not privileged")
		}
		if c.SecurityContext.RunAsUser == nil || *c.SecurityContext.RunAsUser != 0 {
			t.Error("msr.enabled: not root (/dev/cpu/*/msr is mode 0600 root)")
		}
		if !slices.Contains(c.Args, "--path.devfs=/host/dev") {
			t.Errorf("msr.enabled: args %q lack --path.devfs=/host/dev", c.Args)
		}
		if !slices.ContainsFunc(c.VolumeMounts, func(m volumeMount) bool {
			return m.MountPath == "/host/dev/cpu" && m.ReadOnly
		}) {
			t.Error("msr.enabled: /host/dev/cpu not mounted read-only")
		}
		checkArgs(t, "msr args", c.Args, "prometheus")
	})
	t.Run("ebpf", func(t *testing.T) {
		for _, tt := range []struct {
			set  string
			caps []string
		}{
			{"ebpf.enabled=true", []string{"BPF", "PERFMON"}},
			{"ebpf.enabled=true,ebpf.sysResource=true", []string{"BPF", "PERFMON", "SYS_RESOURCE"}},
		} {
			objs := parseObjects(t, render(t, "--set", tt.set))
			c := pod(t, objs).Containers[0]
			if !slices.Contains(c.Args, "--cpu-source=ebpf") || slices.Contains(c.Args, "--cpu-source=procfs") {
				t.Errorf("%s: args %q, want --cpu-source=ebpf only", tt.set, c.Args)
			}
			sc := c.SecurityContext
			if sc.Privileged != nil && *sc.Privileged {
				t.Errorf("%s: privileged", tt.set)
			}
			if sc.Capabilities == nil {
				t.Fatalf("%s: no capabilities", tt.set)
			}
			if diff := cmp.Diff(tt.caps, sc.Capabilities.Add); diff != "" {
				t.Errorf("%s: capabilities added (-want +got):\n%s", tt.set, diff)
			}
			if diff := cmp.Diff([]string{"ALL"}, sc.Capabilities.Drop); diff != "" {
				t.Errorf("%s: capabilities dropped (-want +got):\n%s", tt.set, diff)
			}
			checkArgs(t, "ebpf args", c.Args, "prometheus")
		}
	})
	t.Run("no capability without a feature that needs one", func(t *testing.T) {
		sc := pod(t, parseObjects(t, render(t, "--set", "sensor=estimate"))).Containers[0].SecurityContext
		if sc.Capabilities == nil || len(sc.Capabilities.Add) > 0 || !slices.Equal(sc.Capabilities.Drop, []string{"ALL"}) {
			t.Errorf("sensor=estimate: capabilities %+v, want drop [ALL] only", sc.Capabilities)
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			t.Error("sensor=estimate: allowPrivilegeEscalation is not false")
		}
		sc = pod(t, parseObjects(t, render(t, "--set", "sensor=perf_rapl"))).Containers[0].SecurityContext
		if sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Add, []string{"PERFMON"}) {
			t.Errorf("sensor=perf_rapl: capabilities %+v, want add [PERFMON]", sc.Capabilities)
		}
		sc = pod(t, parseObjects(t, render(t, "--set", "sensor=powercap_rapl,securityContext.runAsUser=0,securityContext.runAsNonRoot=false"))).Containers[0].SecurityContext
		if sc.Capabilities == nil || len(sc.Capabilities.Add) > 0 || sc.RunAsUser == nil || *sc.RunAsUser != 0 {
			t.Errorf("powercap_rapl as root: %+v, want uid 0 and no capability", sc)
		}
	})
	t.Run("all flags", func(t *testing.T) {
		objs := parseObjects(t, render(t, "--set",
			"idlePower=12.5,idlePolicy=shared,step=1,process.top=0,web.configSecret=web,log.format=json"))
		checkArgs(t, "args", pod(t, objs).Containers[0].Args, "prometheus")
	})
	t.Run("bad source refused", func(t *testing.T) {
		if testing.Short() {
			t.Skip("-short")
		}
		cmd := exec.Command("bash", "render.sh", "--set", "containers.source=docker")
		cmd.Env = append(os.Environ(), "HELM=")
		if out, err := cmd.CombinedOutput(); err == nil {
			t.Errorf("containers.source=docker rendered:\n%s", out)
		}
	})
}

// TestManifestsUpToDate checks kubernetes/wattlens.yaml is what the chart
// renders now.
func TestManifestsUpToDate(t *testing.T) {
	fresh := render(t)
	committed, err := os.ReadFile("kubernetes/wattlens.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(committed), string(fresh)); diff != "" {
		t.Errorf("kubernetes/wattlens.yaml is stale; run `make -C deploy manifests` (-committed +fresh):\n%s", diff)
	}
}
