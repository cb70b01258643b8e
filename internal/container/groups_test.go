package container

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestGroupKeys(t *testing.T) {
	const id = "3f1c2b6a9d8e7f60112233445566778899aabbccddeeff00112233445566778a"
	const uid = "7d4f3c2a-1b2c-4d5e-8f90-a1b2c3d4e5f6"
	tests := []struct {
		name string
		path string
		want []string
	}{
		{"docker", "/system.slice/docker-" + id + ".scope", []string{"container:" + id}},
		{"pod container, systemd driver", "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod7d4f3c2a_1b2c_4d5e_8f90_a1b2c3d4e5f6.slice/cri-containerd-" + id + ".scope",
			[]string{"container:" + id, "pod:" + uid}},
		{"pod container, cgroupfs driver, runtime unknown", "/kubepods/besteffort/pod" + uid + "/" + id, []string{"container:" + id, "pod:" + uid}},
		{"service", "/system.slice/nginx.service", []string{"service:nginx.service"}},
		{"session", "/user.slice/user-1000.slice/session-2.scope", nil},
		{"root", "/", nil},
	}
	r := NewResolver(0)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, r.Resolve(tt.path).GroupKeys()); diff != "" {
				t.Errorf("GroupKeys of %s (-want +got):\n%s", tt.path, diff)
			}
		})
	}
	var nilWorkload *Workload
	if got := nilWorkload.GroupKeys(); got != nil {
		t.Errorf("nil workload: %v", got)
	}
}

func TestCurrentNames(t *testing.T) {
	const id = "3f1c2b6a9d8e7f60112233445566778899aabbccddeeff00112233445566778a"
	known := func(n, p, ns string, ok bool) NameFunc {
		return func(got string) (string, string, string, bool) {
			if got != id {
				t.Errorf("looked up %q, want %q", got, id)
			}
			return n, p, ns, ok
		}
	}
	first := &Workload{Kind: KindContainer, ID: id, Name: "web", Pod: "old-pod", Namespace: "old-ns"}
	tests := []struct {
		name   string
		w      *Workload
		lookup NameFunc
		want   [3]string
	}{
		{"no lookup", first, nil, [3]string{"web", "old-pod", "old-ns"}},
		{"nothing known now", first, known("", "", "", false), [3]string{"web", "old-pod", "old-ns"}},
		{"known now", first, known("api", "api-1", "shop", true), [3]string{"api", "api-1", "shop"}},
		{"pod only now", first, known("", "api-1", "shop", true), [3]string{"web", "api-1", "shop"}},
		{"not named at first sight", &Workload{Kind: KindContainer, ID: id}, known("api", "", "", true), [3]string{"api", "", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, p, ns := tt.w.CurrentNames(tt.lookup)
			if got := [3]string{n, p, ns}; got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestWorkloadOf(t *testing.T) {
	w := &Workload{Kind: KindContainer, ID: "abc"}
	tests := []struct {
		name string
		v    any
		want *Workload
	}{
		{"a workload", w, w},
		{"nil", nil, nil},
		{"a nil workload", (*Workload)(nil), nil},
		{"a workload by value", Workload{Kind: KindContainer}, nil},
		{"another type", "container:abc", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := WorkloadOf(tt.v); got != tt.want {
				t.Errorf("WorkloadOf(%#v) = %p, want %p", tt.v, got, tt.want)
			}
		})
	}
}
