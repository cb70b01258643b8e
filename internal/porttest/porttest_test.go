package porttest

import (
	"net"
	"strconv"
	"testing"
)

func TestFreeCanBeListenedOn(t *testing.T) {
	p := Free(t)
	if p <= 0 || p > 65535 {
		t.Fatalf("Free = %d, not a port", p)
	}
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
	if err != nil {
		t.Fatalf("port %d is not free: %v", p, err)
	}
	_ = l.Close()
}
