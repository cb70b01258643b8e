// Command ioload is a test helper of the end-to-end tests: it does one kind
// of I/O for a bounded time, so that the tests can check whose energy
// storage and network activity become.
//
//	ioload -disk FILE -for 10s   write 1 MiB blocks to FILE with O_DIRECT
//	                             (else write + fdatasync), rewinding at 64 MiB
//	ioload -loopback -for 10s    send and receive over a TCP connection to
//	                             itself on 127.0.0.1
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"
	"unsafe"
)

const block = 1 << 20

func main() {
	disk := flag.String("disk", "", "file to write with O_DIRECT")
	loopback := flag.Bool("loopback", false, "send and receive over 127.0.0.1")
	dur := flag.Duration("for", 5*time.Second, "how long to run")
	pause := flag.Duration("pause", 2*time.Millisecond, "-loopback: pause after each 64 KiB round trip, so the talker uses little CPU")
	flag.Parse()
	var err error
	switch {
	case *disk != "":
		err = writeDisk(*disk, *dur)
	case *loopback:
		err = talk(*dur, *pause)
	default:
		err = errors.New("give -disk FILE or -loopback")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ioload:", err)
		os.Exit(1)
	}
}

// aligned returns a block of n bytes aligned to 4 KiB, as O_DIRECT needs.
func aligned(n int) []byte {
	b := make([]byte, n+4096)
	off := 4096 - int(uintptr(unsafe.Pointer(&b[0]))&4095)
	return b[off : off+n]
}

func writeDisk(path string, d time.Duration) error {
	direct := true
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|syscall.O_DIRECT, 0o600)
	if err != nil {
		direct = false // a file system without O_DIRECT: write and sync instead
		if f, err = os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o600); err != nil {
			return err
		}
	}
	defer func() { _ = f.Close() }()
	buf := aligned(block)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	end := time.Now().Add(d)
	var off int64
	for time.Now().Before(end) {
		if _, err := f.WriteAt(buf, off); err != nil {
			return err
		}
		if !direct {
			if err := f.Sync(); err != nil {
				return err
			}
		}
		if off += block; off >= 64*block {
			off = 0
		}
	}
	return nil
}

func talk(d, pause time.Duration) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer func() { _ = ln.Close() }()
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		_, err = io.Copy(c, c) // echo
		_ = c.Close()
		done <- err
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		return err
	}
	buf := make([]byte, 64<<10)
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		if _, err := c.Write(buf); err != nil {
			return err
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			return err
		}
		time.Sleep(pause)
	}
	_ = c.Close()
	return <-done
}
