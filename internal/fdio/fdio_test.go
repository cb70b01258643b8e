package fdio

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

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
