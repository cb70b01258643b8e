package promexp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"

	"github.com/prometheus/exporter-toolkit/web"
)

// ListenError is an address of --web.listen-address that cannot be
// listened on (taken by another program, a port below 1024 without the
// capability, an address not on this host).
type ListenError struct {
	Address string
	Err     error
}

func (e *ListenError) Error() string {
	cause := e.Err.Error()
	// "listen tcp :29288: bind: address already in use" says the address
	// twice; the system call's own words are enough.
	var se *os.SyscallError
	if errors.As(e.Err, &se) {
		cause = se.Err.Error()
	}
	return fmt.Sprintf("cannot listen on %s: %s; give another address with --web.listen-address", e.Address, cause)
}

func (e *ListenError) Unwrap() error { return e.Err }

// Listen opens the TCP listeners of the --web.listen-address flags, before
// anything else starts, so that a taken port is the first and only thing a
// user reads. The toolkit's "Listening on" line comes when ServeOn serves
// them. With systemd socket activation, or a vsock:// address, it opens
// nothing and returns no listeners: ServeOn leaves those to the toolkit.
// On an error, the listeners already open are closed.
func Listen(flags *web.FlagConfig) ([]net.Listener, error) {
	if flags == nil || flags.WebListenAddresses == nil || flags.WebSystemdSocket != nil && *flags.WebSystemdSocket {
		return nil, nil
	}
	for _, addr := range *flags.WebListenAddresses {
		if strings.HasPrefix(addr, "vsock://") {
			return nil, nil
		}
	}
	var ls []net.Listener
	for _, addr := range *flags.WebListenAddresses {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			for _, l := range ls {
				_ = l.Close()
			}
			return nil, &ListenError{Address: addr, Err: err}
		}
		ls = append(ls, l)
	}
	return ls, nil
}

// Serve listens (Listen) and serves (ServeOn) in one call.
func Serve(ctx context.Context, h http.Handler, flags *web.FlagConfig, o ServeOptions, log *slog.Logger) error {
	ls, err := Listen(flags)
	if err != nil {
		return err
	}
	return ServeOn(ctx, ls, h, flags, o, log)
}

// serveListeners serves srv on ls, or, with none, on what the toolkit
// opens itself from flags. Every listener is closed when it returns.
func serveListeners(ls []net.Listener, srv *http.Server, flags *web.FlagConfig, log *slog.Logger) error {
	if len(ls) == 0 {
		return web.ListenAndServe(srv, flags, log)
	}
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	return web.ServeMultiple(ls, srv, flags, log)
}
