package main

import (
	"strings"
	"testing"
)

func TestWebPageUsageErrors(t *testing.T) {
	sys := fakeRAPL(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"web: no process listed", []string{"web", "--web.page.top", "0"}, "--web.page.top must be more than 0"},
		{"web: no browser allowed", []string{"web", "--web.page.max-clients", "0"}, "--web.page.max-clients must be more than 0"},
		{"web: no history", []string{"web", "--web.page.history", "0"}, "--web.page.history must be more than 0"},
		{"web: bad history", []string{"web", "--web.page.history", "soon"}, "soon"},
		{"prometheus: no process listed", []string{"prometheus", "--web.page.top=-1", "--web.listen-address", "127.0.0.1:0"}, "--web.page.top must be more than 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"--path.sysfs", sys, "-s", "powercap_rapl"}, tc.args...)
			code, _, stderr := runWattlens(t, args...)
			if code != 2 || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, stderr, tc.want)
			}
		})
	}
}
