package fdio

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestReadFull(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		content []byte
		bufLen  int
		want    []byte
	}{
		{name: "fits", content: []byte("123456\n"), bufLen: 64, want: []byte("123456\n")},
		{name: "cut at the buffer", content: bytes.Repeat([]byte("x"), 100), bufLen: 10, want: bytes.Repeat([]byte("x"), 10)},
		{name: "empty file", content: nil, bufLen: 8, want: []byte{}},
		{name: "larger than one read", content: bytes.Repeat([]byte("ab"), 40000), bufLen: 80000, want: bytes.Repeat([]byte("ab"), 40000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, tt.name)
			if err := os.WriteFile(p, tt.content, 0o644); err != nil {
				t.Fatal(err)
			}
			fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = unix.Close(fd) }()
			buf := make([]byte, tt.bufLen)
			n, err := ReadFull(fd, buf)
			if err != nil || !bytes.Equal(buf[:n], tt.want) {
				t.Errorf("ReadFull = %d bytes %q, %v; want %q", n, buf[:n], err, tt.want)
			}
		})
	}
	if _, err := ReadFull(-1, make([]byte, 4)); err == nil {
		t.Error("ReadFull on a bad descriptor: no error")
	}
}

func TestOpenRefusesWhatIsNotARegularFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "energy_uj")
	if err := unix.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := ReadFile(fifo, 64)
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, ErrNotRegular) {
			t.Errorf("ReadFile(fifo) = %v, want ErrNotRegular", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ReadFile blocked on a FIFO with no writer")
	}
	if _, err := ReadFile(dir, 64); !errors.Is(err, ErrNotRegular) {
		t.Errorf("ReadFile(dir) = %v, want ErrNotRegular", err)
	}
	reg := filepath.Join(dir, "v")
	if err := os.WriteFile(reg, []byte("12345\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := ReadFile(reg, 64); err != nil || string(b) != "12345\n" {
		t.Errorf("ReadFile(regular) = %q, %v", b, err)
	}
	if _, err := ReadFile(reg, 3); err == nil {
		t.Error("ReadFile past its limit: want an error")
	}
}

func TestRetry(t *testing.T) {
	tests := []struct {
		name      string
		errs      []error // what each call returns, in order
		wantCalls int
		wantErr   error
	}{
		{name: "success at once", errs: []error{nil}, wantCalls: 1},
		{name: "interrupted twice", errs: []error{unix.EINTR, unix.EINTR, nil}, wantCalls: 3},
		{name: "another error is returned", errs: []error{unix.EINTR, unix.EAGAIN, nil}, wantCalls: 2, wantErr: unix.EAGAIN},
		{name: "not found at once", errs: []error{unix.ENOENT}, wantCalls: 1, wantErr: unix.ENOENT},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			got, err := Retry(func() (int, error) {
				calls++
				return calls, tt.errs[calls-1]
			})
			if calls != tt.wantCalls || got != tt.wantCalls || err != tt.wantErr {
				t.Errorf("Retry: %d calls returning %d, %v; want %d calls returning %d, %v", calls, got, err, tt.wantCalls, tt.wantCalls, tt.wantErr)
			}
		})
	}
}

func TestRetryErrno(t *testing.T) {
	tests := []struct {
		name      string
		errnos    []unix.Errno
		wantCalls int
		wantErrno unix.Errno
	}{
		{name: "success at once", errnos: []unix.Errno{0}, wantCalls: 1},
		{name: "interrupted twice", errnos: []unix.Errno{unix.EINTR, unix.EINTR, 0}, wantCalls: 3},
		{name: "another errno is returned", errnos: []unix.Errno{unix.EINTR, unix.EBADF, 0}, wantCalls: 2, wantErrno: unix.EBADF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			got, errno := RetryErrno(func() (uintptr, unix.Errno) {
				calls++
				return uintptr(calls), tt.errnos[calls-1]
			})
			if calls != tt.wantCalls || got != uintptr(tt.wantCalls) || errno != tt.wantErrno {
				t.Errorf("RetryErrno: %d calls returning %d, %v; want %d calls returning %d, %v", calls, got, errno, tt.wantCalls, tt.wantCalls, tt.wantErrno)
			}
		})
	}
}

func TestReadFileModeAndCheck(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := os.WriteFile(p, []byte("abc"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, 0o640); err != nil {
		t.Fatal(err)
	}
	b, mode, err := ReadFileMode(p, 16)
	if err != nil || string(b) != "abc" || mode != 0o640 {
		t.Errorf("ReadFileMode = %q, %o, %v; want abc, 640, nil", b, mode, err)
	}
	if err := Check(p); err != nil {
		t.Errorf("Check(regular file) = %v", err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Check(fifo); !errors.Is(err, ErrNotRegular) {
		t.Errorf("Check(fifo) = %v, want ErrNotRegular", err)
	}
	if err := Check(dir); !errors.Is(err, ErrNotRegular) {
		t.Errorf("Check(dir) = %v, want ErrNotRegular", err)
	}
}
