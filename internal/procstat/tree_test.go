package procstat

import (
	"errors"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestAppendPIDList(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want []int
	}{
		{"empty", "", nil},
		{"kernel format", "12 345 ", []int{12, 345}},
		{"no trailing space", "7 8", []int{7, 8}},
		{"newline", "9\n", []int{9}},
		{"garbage skipped", "1 x2 3y 4 ", []int{1, 4}},
		{"overflowing number skipped", "99999999999999 5 ", []int{5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, appendPIDList(nil, []byte(tc.in))); diff != "" {
				t.Errorf("appendPIDList(%q) (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}

// TestDescendants walks a real process tree: a shell with two children,
// one of which has a child of its own.
func TestDescendants(t *testing.T) {
	if _, err := os.Stat("/proc/self/task/" + strconv.Itoa(os.Getpid()) + "/children"); err != nil {
		t.Skipf("this kernel has no children files: %v", err)
	}
	cmd := exec.Command("sh", "-c", "sleep 30 & sh -c 'sleep 30 & wait' & wait")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = exec.Command("pkill", "-KILL", "-P", strconv.Itoa(cmd.Process.Pid)).Run()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	r := NewReader("/proc")
	var pids []int
	var err error
	deadline := time.Now().Add(10 * time.Second)
	for len(pids) < 4 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		if pids, err = r.Descendants(cmd.Process.Pid, pids); err != nil {
			t.Fatal(err)
		}
	}
	if len(pids) != 4 || pids[0] != cmd.Process.Pid {
		t.Fatalf("Descendants(%d) = %v, want the shell first and 3 descendants", cmd.Process.Pid, pids)
	}
	procs, st, err := r.ReadPIDs(nil, append(slices.Clone(pids), 1<<30))
	if err != nil {
		t.Fatal(err)
	}
	if len(procs) != 4 || st.Skipped != 1 || st.Seen != 5 {
		t.Fatalf("ReadPIDs: %d procs, stats %+v; want 4 procs, 1 skipped of 5", len(procs), st)
	}
	parents := map[int]int{}
	for _, p := range procs {
		parents[p.PID] = p.PPID
		if p.Meta != nil || p.StartTime == 0 {
			t.Errorf("proc %+v: want no Meta and a start time", p)
		}
	}
	for _, pid := range pids[1:] {
		if !slices.Contains(pids, parents[pid]) {
			t.Errorf("pid %d's parent %d is not in the tree %v", pid, parents[pid], pids)
		}
	}

	gone, err := r.Descendants(1<<30, pids)
	if err != nil || len(gone) != 0 {
		t.Errorf("Descendants of a PID that does not exist = %v, %v; want none, no error", gone, err)
	}
}

// A tree with task directories but no children files (a kernel without
// CONFIG_PROC_CHILDREN) says so.
func TestDescendantsWithoutChildrenFiles(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(root+"/42/task/42", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(root+"/42/task/42/stat", []byte("42 (x) S 1"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := NewReader(root).Descendants(42, nil)
	if !errors.Is(err, ErrNoChildren) {
		t.Fatalf("Descendants = %v, want ErrNoChildren", err)
	}
}
