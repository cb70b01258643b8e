package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"syscall"
	"time"
	"unsafe"
)

// group is a set of child processes in one process group of their own,
// killed and reaped together.
type group struct {
	pgid int
	pids []int
}

// spawn starts argv in g's process group. The child dies with the
// harness (Pdeathsig) and is reaped by kill.
func (g *group) spawn(argv []string, stdout, stderr *os.File) (int, error) {
	files := []uintptr{devnull.Fd(), devnull.Fd(), devnull.Fd()}
	if stdout != nil {
		files[1] = stdout.Fd()
	}
	if stderr != nil {
		files[2] = stderr.Fd()
	}
	// Pdeathsig fires when the forking thread exits: keep it alive.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	pid, err := syscall.ForkExec(argv[0], argv, &syscall.ProcAttr{
		Env:   os.Environ(),
		Files: files,
		Sys:   &syscall.SysProcAttr{Setpgid: true, Pgid: g.pgid, Pdeathsig: syscall.SIGKILL},
	})
	if err != nil {
		return 0, fmt.Errorf("start %s: %w", argv[0], err)
	}
	if g.pgid == 0 {
		g.pgid = pid
	}
	g.pids = append(g.pids, pid)
	return pid, nil
}

// kill sends sig to the group, waits up to grace for its members to end,
// then kills what is left and reaps every member, within 30 s in all.
func (g *group) kill(sig syscall.Signal, grace time.Duration) {
	if g.pgid == 0 {
		return
	}
	_ = syscall.Kill(-g.pgid, sig)
	left := map[int]bool{}
	for _, p := range g.pids {
		left[p] = true
	}
	deadline := time.Now().Add(grace)
	killed := sig == syscall.SIGKILL
	hard := time.Now().Add(30 * time.Second)
	for len(left) > 0 && time.Now().Before(hard) {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-g.pgid, &ws, syscall.WNOHANG, nil)
		switch {
		case errors.Is(err, syscall.ECHILD):
			left = nil
		case err == nil && pid > 0:
			delete(left, pid)
			continue
		}
		if !killed && time.Now().After(deadline) {
			_ = syscall.Kill(-g.pgid, syscall.SIGKILL)
			killed = true
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(left) > 0 {
		fmt.Fprintf(os.Stderr, "agentperf: %d processes of group %d not reaped\n", len(left), g.pgid)
	}
	g.pgid, g.pids = 0, nil
}

var devnull, _ = os.OpenFile(os.DevNull, os.O_RDWR, 0)

// sleepersPerForker is how many sleepers one forker process starts.
const sleepersPerForker = 1000

// startSleepers starts n sleeping single-threaded processes that end by
// themselves after life in any case (forkers, see forkSleepers: fork is
// about a hundred times cheaper than starting /bin/sleep on a loaded
// machine), plus the fake qemu guests: the harness's own binary under the
// name qemu-system-x86_64, with a libvirt-like command line (see
// internal/vmdetect). It returns once they all show in /proc.
func startSleepers(ctx context.Context, n int, guests int, self, qemuPath string, life time.Duration) (*group, error) {
	g := &group{}
	secs := strconv.Itoa(int(life.Seconds()) + 1)
	before := countProcs()
	forkers := 0
	for left := n; left > 0; left -= sleepersPerForker {
		k := min(left, sleepersPerForker)
		if _, err := g.spawn([]string{self, "sleepers", strconv.Itoa(k), secs}, nil, nil); err != nil {
			g.kill(syscall.SIGKILL, 0)
			return nil, err
		}
		forkers++
	}
	for i := 0; i < guests; i++ {
		argv := []string{qemuPath, "-name", fmt.Sprintf("guest=vm%d,debug-threads=on", i), "-S", "-machine", "pc-q35-8.2,accel=kvm", "-m", "2048", "-sleep", secs}
		if _, err := g.spawn(argv, nil, nil); err != nil {
			g.kill(syscall.SIGKILL, 0)
			return nil, fmt.Errorf("guest %d: %w", i, err)
		}
	}
	want := before + n + forkers + guests
	for end := time.Now().Add(5 * time.Minute); countProcs() < want-50; time.Sleep(200 * time.Millisecond) {
		if ctx.Err() != nil || time.Now().After(end) {
			g.kill(syscall.SIGKILL, 0)
			return nil, fmt.Errorf("sleepers did not all start: %d processes of %d (%v)", countProcs(), want, ctx.Err())
		}
	}
	return g, nil
}

// forkSleepers is the "sleepers N SECS" mode: fork N children that sleep
// SECS seconds (and die with this process), then sleep as long. Each
// child runs only raw system calls (sleeperChild), never the Go runtime.
func forkSleepers(n int, secs int64) error {
	runtime.LockOSThread() // the children's PR_SET_PDEATHSIG watches this thread
	for i := 0; i < n; i++ {
		pid, _, errno := syscall.RawSyscall6(syscall.SYS_CLONE, uintptr(syscall.SIGCHLD), 0, 0, 0, 0, 0)
		if errno != 0 {
			return fmt.Errorf("fork %d of %d: %w", i+1, n, errno)
		}
		if pid == 0 {
			sleeperChild(secs)
		}
	}
	time.Sleep(time.Duration(secs) * time.Second)
	return nil
}

// sleeperChild is all a forked sleeper runs: no allocation, no stack
// growth, no scheduler.
//
//go:nosplit
//go:norace
func sleeperChild(secs int64) {
	_, _, _ = syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_PDEATHSIG, uintptr(syscall.SIGKILL), 0)
	ts := syscall.Timespec{Sec: secs}
	for {
		_, _, errno := syscall.RawSyscall(syscall.SYS_NANOSLEEP, uintptr(unsafe.Pointer(&ts)), uintptr(unsafe.Pointer(&ts)), 0)
		if errno != syscall.EINTR {
			break
		}
	}
	_, _, _ = syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 0, 0, 0)
}

// fakeGuest is what the binary does when run as qemu-system-x86_64: sleep
// for the seconds after -sleep, then exit.
func fakeGuest(args []string) {
	d := time.Hour
	for i := 0; i+1 < len(args); i++ {
		if args[i] == "-sleep" {
			if s, err := strconv.Atoi(args[i+1]); err == nil {
				d = time.Duration(s) * time.Second
			}
		}
	}
	time.Sleep(d)
}

// burn spins on the CPU for d of wall time, then writes the CPU time it
// used (getrusage, RUSAGE_SELF, all its threads) in nanoseconds to out.
func burn(d time.Duration, out string) error {
	end := time.Now().Add(d)
	x := uint64(1)
	for time.Now().Before(end) {
		for i := 0; i < 100000; i++ {
			x = x*6364136223846793005 + 1442695040888963407
		}
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return err
	}
	ns := ru.Utime.Nano() + ru.Stime.Nano()
	return os.WriteFile(out, []byte(fmt.Sprintf("%d %d\n", ns, x&1)), 0o644)
}
