package citest

import "testing"

func TestRunning(t *testing.T) {
	tests := []struct {
		ci   string
		want bool
	}{
		{"", false},
		{"false", false},
		{"0", false},
		{"true", true},
		{"1", true},
		{"yes", true},
	}
	for _, tt := range tests {
		t.Run("CI="+tt.ci, func(t *testing.T) {
			t.Setenv("CI", tt.ci)
			if got := Running(); got != tt.want {
				t.Errorf("Running() with CI=%q = %v, want %v", tt.ci, got, tt.want)
			}
		})
	}
}
