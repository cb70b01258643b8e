package procstat

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wattlens/wattlens/internal/procinfo"
	"github.com/wattlens/wattlens/internal/procstat/procfstest"
)

func TestParseStat(t *testing.T) {
	normal := procfstest.StatLine(procfstest.Proc{PID: 4242, Comm: "bash", UTime: 120, STime: 34, StartTime: 987654})
	tests := []struct {
		name    string
		in      string
		want    statFields
		wantErr error
	}{
		{
			name: "normal",
			in:   normal,
			want: statFields{PID: 4242, Comm: []byte("bash"), Flags: 4194560, UTime: 120, STime: 34, StartTime: 987654, VSize: 10_000_000 + 4242*4096, RSS: 300 + 242, HasMemory: true},
		},
		{
			name: "real kernel line",
			in:   "1 (process_api) S 0 0 0 0 -1 4194560 31010 306429 0 146 26 168 718 420 10 -10 14 0 24 44916736 3097 18446744073709551615 1 1 0 0 0 0 0 4096 1256 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n",
			want: statFields{PID: 1, Comm: []byte("process_api"), Flags: 4194560, UTime: 26, STime: 168, CUTime: 718, CSTime: 420, StartTime: 24, VSize: 44916736, RSS: 3097, HasMemory: true},
		},
		{
			name: "comm with spaces and parentheses",
			in:   procfstest.StatLine(procfstest.Proc{PID: 7, Comm: "a) (b c) S 1 2", UTime: 5, STime: 6, StartTime: 77}),
			want: statFields{PID: 7, Comm: []byte("a) (b c) S 1 2"), Flags: 4194560, UTime: 5, STime: 6, StartTime: 77, VSize: 10_000_000 + 7*4096, RSS: 307, HasMemory: true},
		},
		{
			name: "empty comm",
			in:   procfstest.StatLine(procfstest.Proc{PID: 8, Comm: "", UTime: 1, STime: 2, StartTime: 3}),
			want: statFields{PID: 8, Comm: []byte{}, Flags: 4194560, UTime: 1, STime: 2, StartTime: 3, VSize: 10_000_000 + 8*4096, RSS: 308, HasMemory: true},
		},
		{
			name: "no trailing newline, ends at starttime",
			in:   "9 (x) S 1 9 9 0 -1 0 0 0 0 0 11 12 0 0 20 0 1 0 13",
			want: statFields{PID: 9, Comm: []byte("x"), PPID: 1, UTime: 11, STime: 12, StartTime: 13},
		},
		{
			name: "max uint64 start time",
			in:   "9 (x) S 1 9 9 0 -1 0 0 0 0 0 11 12 0 0 20 0 1 0 18446744073709551615 0\n",
			want: statFields{PID: 9, Comm: []byte("x"), PPID: 1, UTime: 11, STime: 12, StartTime: 1<<64 - 1},
		},
		{
			name: "vsize and rss",
			in:   "9 (x) S 1 9 9 0 -1 0 0 0 0 0 11 12 0 0 20 0 1 0 13 44916736 3097 18446744073709551615\n",
			want: statFields{PID: 9, Comm: []byte("x"), PPID: 1, UTime: 11, STime: 12, StartTime: 13, VSize: 44916736, RSS: 3097, HasMemory: true},
		},
		{
			name: "parent and reaped children's times",
			in:   "31 (make) S 30 31 31 0 -1 0 0 0 0 0 5 6 700 80 20 0 1 0 99\n",
			want: statFields{PID: 31, Comm: []byte("make"), PPID: 30, UTime: 5, STime: 6, CUTime: 700, CSTime: 80, StartTime: 99},
		},
		{
			name: "kernel thread",
			in:   "27181 (kworker/u8:2-events_unbound) I 2 0 0 0 -1 69238880 0 0 0 0 0 412 0 0 20 0 1 0 69238880 0 0 18446744073709551615 0 0 0 0 0 0 0 2147483647 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n",
			want: statFields{PID: 27181, Comm: []byte("kworker/u8:2-events_unbound"), PPID: 2, Flags: 69238880, STime: 412, StartTime: 69238880, HasMemory: true},
		},
		{name: "empty", in: "", wantErr: errStatComm},
		{name: "no comm", in: "12 S 1 2 3\n", wantErr: errStatComm},
		{name: "unclosed comm", in: "12 (abc S 1 2 3\n", wantErr: errStatComm},
		{name: "truncated after comm", in: "12 (abc)", wantErr: errStatTruncated},
		{name: "truncated before starttime", in: "9 (x) S 1 9 9 0 -1 0 0 0 0 0 11 12 0 0 20 0 1 0", wantErr: errStatTruncated},
		{name: "truncated mid-line", in: normal[:60], wantErr: errStatTruncated},
		{name: "double space", in: "9 (x) S 1 9 9 0 -1 0 0 0 0 0  11 12 0 0 20 0 1 0 13\n", wantErr: errStatNumber},
		{name: "garbage pid", in: "x9 (x) S 1 9 9 0 -1 0 0 0 0 0 11 12 0 0 20 0 1 0 13\n", wantErr: errStatNumber},
		{name: "garbage flags", in: "9 (x) S 1 9 9 0 -1 0x40 0 0 0 0 11 12 0 0 20 0 1 0 13\n", wantErr: errStatNumber},
		{name: "garbage utime", in: "9 (x) S 1 9 9 0 -1 0 0 0 0 0 1a 12 0 0 20 0 1 0 13\n", wantErr: errStatNumber},
		{name: "negative stime", in: "9 (x) S 1 9 9 0 -1 0 0 0 0 0 11 -12 0 0 20 0 1 0 13\n", wantErr: errStatNumber},
		{name: "overflowing starttime", in: "9 (x) S 1 9 9 0 -1 0 0 0 0 0 11 12 0 0 20 0 1 0 18446744073709551616\n", wantErr: errStatNumber},
		{name: "garbage rss", in: "9 (x) S 1 9 9 0 -1 0 0 0 0 0 11 12 0 0 20 0 1 0 13 4096 x1\n", wantErr: errStatNumber},
		{name: "empty starttime", in: "9 (x) S 1 9 9 0 -1 0 0 0 0 0 11 12 0 0 20 0 1 0 \n", wantErr: errStatNumber},
		{name: "binary garbage", in: "\x00\xff\xfe(\x01)\x02", wantErr: errStatComm},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStat([]byte(tt.in))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("parseStat(%q) error = %v, want %v", tt.in, err, tt.wantErr)
			}
			if tt.wantErr != nil {
				return
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parseStat(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestKernelThread(t *testing.T) {
	for _, tt := range []struct {
		flags uint64
		want  bool
	}{
		{4194560, false},   // PF_RANDOMIZE | PF_SUPERPRIV: a user process
		{69238880, true},   // a kworker
		{0x00200000, true}, // PF_KTHREAD alone
		{0, false},
	} {
		f := statFields{Flags: tt.flags}
		if got := f.kernelThread(); got != tt.want {
			t.Errorf("flags %#x: kernelThread() = %v, want %v", tt.flags, got, tt.want)
		}
	}
}

func TestParseCPUTimes(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    procinfo.CPUTimes
		wantErr error
	}{
		{
			name: "modern kernel, guest not double-counted",
			in: "cpu  5616 7 2078 44654 121 3 20 14 100 5\n" +
				"cpu0 2700 0 932 22606 16 0 3 6 50 0\n" +
				"cpu1 2916 7 1146 22048 105 3 17 8 50 5\n" +
				"intr 1 2 3\nctxt 4\n",
			want: procinfo.CPUTimes{Busy: 5616 + 7 + 2078 + 3 + 20 + 14, Work: 5616 + 7 + 2078 + 3 + 20, Total: 5616 + 7 + 2078 + 3 + 20 + 14 + 44654 + 121, CPUs: 2},
		},
		{
			name: "old kernel with four fields",
			in:   "cpu 10 20 30 40\ncpu0 10 20 30 40\n",
			want: procinfo.CPUTimes{Busy: 60, Work: 60, Total: 100, CPUs: 1},
		},
		{
			name: "no trailing newline",
			in:   "cpu 1 2 3 4 5 6 7 8 9 10",
			want: procinfo.CPUTimes{Busy: 1 + 2 + 3 + 6 + 7 + 8, Work: 1 + 2 + 3 + 6 + 7, Total: 36},
		},
		{name: "empty", in: "", wantErr: errCPUMissing},
		{name: "cpuN only", in: "cpu0 1 2 3 4\n", wantErr: errCPUMissing},
		{name: "too few fields", in: "cpu 1 2 3\n", wantErr: errCPUNumber},
		{name: "garbage number", in: "cpu 1 2 x 4 5 6 7 8\n", wantErr: errCPUNumber},
		{name: "not stat at all", in: "MemTotal: 1 kB\n", wantErr: errCPUMissing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseCPUTimes([]byte(tt.in))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("parseCPUTimes error = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parseCPUTimes mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCgroupPath(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{name: "v2 only", in: "0::/system.slice/docker-abc.scope\n", want: "/system.slice/docker-abc.scope"},
		{name: "hybrid, v2 line last", in: "2:cpu,cpuacct:/docker/abc\n1:name=systemd:/docker/abc\n0::/docker/abc\n", want: "/docker/abc"},
		{name: "v1 only, first line wins", in: "12:pids:/kubepods/pod1/c1\n11:memory:/kubepods/pod1/c2\n", want: "/kubepods/pod1/c1"},
		{name: "path with colons", in: "0::/a:b:c\n", want: "/a:b:c"},
		{name: "no newline", in: "0::/x", want: "/x"},
		{name: "empty", in: "", want: ""},
		{name: "garbage", in: "nonsense\n", want: ""},
		{name: "v2", in: "0::/system.slice/nginx.service\n", want: "/system.slice/nginx.service"},
		{name: "v2 no newline", in: "0::/a/b", want: "/a/b"},
		{name: "v1 cpu line not first", in: "12:pids:/p\n4:cpu,cpuacct:/c\n1:name=systemd:/c\n", want: "/c"},
		{name: "v1 cpuacct,cpu order", in: "12:pids:/p\n3:cpuacct,cpu:/c\n", want: "/c"},
		{name: "v1 cpu alone", in: "5:cpuset:/s\n4:cpu:/c\n", want: "/c"},
		{name: "v1 no cpu line: name=systemd", in: "12:pids:/p\n1:name=systemd:/n\n", want: "/n"},
		{name: "v1 no cpu nor systemd: first", in: "12:pids:/p\n11:memory:/m\n", want: "/p"},
		{name: "hybrid, unified elsewhere: cpu", in: "3:cpu,cpuacct:/docker/x\n0::/system.slice/containerd.service\n", want: "/docker/x"},
		{name: "hybrid, unified deeper: unified", in: "3:cpu,cpuacct:/user.slice\n0::/user.slice/user-1000.slice/session-2.scope\n", want: "/user.slice/user-1000.slice/session-2.scope"},
		{name: "hybrid, cpu at root: unified", in: "3:cpu,cpuacct:/\n0::/system.slice/a.service\n", want: "/system.slice/a.service"},
		{name: "hybrid, prefix is not a parent", in: "3:cpu,cpuacct:/system.slice/a\n0::/system.slice/ab.service\n", want: "/system.slice/a"},
		{name: "path with colons", in: "0::/x.slice:cri-containerd:abc\n", want: "/x.slice:cri-containerd:abc"},
		{name: "garbage", in: "nothing here\n", want: ""},
		{name: "empty", in: "", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, CgroupPath([]byte(tt.in))); diff != "" {
				t.Errorf("CgroupPath mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSanitize(t *testing.T) {
	tests := []struct {
		name string
		in   string
		max  int
		want string
	}{
		{name: "ascii", in: "/usr/bin/python3 -m http.server", max: 100, want: "/usr/bin/python3 -m http.server"},
		{name: "utf-8 kept", in: "café ☕", max: 100, want: "café ☕"},
		{name: "whitespace controls become spaces", in: "a\tb\nc\rd", max: 100, want: "a b c d"},
		{name: "escape sequences kept for the exporters", in: "\x1b[31mred\x7f", max: 100, want: "\x1b[31mred\x7f"},
		{name: "C1 control kept", in: "a\u0085b", max: 100, want: "a\u0085b"},
		{name: "invalid utf-8", in: "a\xffb\xc3", max: 100, want: "a\uFFFDb\uFFFD"},
		{name: "cut ascii", in: "abcdef", max: 4, want: "abcd"},
		{name: "cut never splits a character", in: "aé", max: 2, want: "a"},
		{name: "replacement counted in the cap", in: "ab\xff", max: 4, want: "ab"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, sanitize([]byte(tt.in), tt.max)); diff != "" {
				t.Errorf("sanitize(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestDirentPID(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		want   int
		wantOK bool
	}{
		{name: "pid", in: "4242\x00\x00", want: 4242, wantOK: true},
		{name: "no nul", in: "17", want: 17, wantOK: true},
		{name: "self", in: "self\x00", wantOK: false},
		{name: "mixed", in: "12a\x00", wantOK: false},
		{name: "empty", in: "\x00", wantOK: false},
		{name: "too big", in: "99999999999999999999\x00", wantOK: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := direntPID([]byte(tt.in))
			if ok != tt.wantOK || (ok && got != tt.want) {
				t.Errorf("direntPID(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}
