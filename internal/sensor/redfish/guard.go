package redfish

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// MaxBody is the most a BMC may send in one response. The largest
// resource the sensor reads (a Chassis, its Power or EnvironmentMetrics)
// is a few tens of kilobytes on the BMCs in redfishtest/testdata; 4 MiB
// leaves room for the most verbose vendor and still keeps a hostile or
// broken BMC from filling the agent's memory.
const MaxBody = 4 << 20

// ErrBodyTooLarge is the error of a response longer than MaxBody.
var ErrBodyTooLarge = fmt.Errorf("bmc response larger than %d bytes: refused", MaxBody)

// origin is a URL's scheme and host with the port made explicit, so that
// https://bmc and https://bmc:443 are the same origin.
func origin(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	host, port := u.Hostname(), u.Port()
	if port == "" {
		switch scheme {
		case "https":
			port = "443"
		case "http":
			port = "80"
		}
	}
	return scheme + "://" + net.JoinHostPort(strings.ToLower(host), port)
}

// errOffOrigin is the error of a request or redirect off the BMC's origin.
type errOffOrigin struct{ to, want string }

func (e errOffOrigin) Error() string {
	return fmt.Sprintf("bmc redirected to %s, off the configured %s: refused (credentials are only sent to %s)", e.to, e.want, e.want)
}

// guard confines a client to the configured BMC: a redirect to any other
// scheme or host (https → http on the same host included) is refused
// before a request leaves, so the credentials gofish sets on every request
// never reach another origin and no figure from another server is booked;
// and every response body is cut at MaxBody, a longer one refused.
func guard(c *http.Client, endpoint string) (*http.Client, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, fmt.Errorf("redfish endpoint %q: %w", endpoint, err)
	}
	want := origin(u)
	g := *c
	base := g.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	g.Transport = cappedTransport{base: base, want: want}
	g.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if o := origin(req.URL); o != want {
			return errOffOrigin{to: o, want: want}
		}
		if len(via) >= 10 {
			return errors.New("bmc: stopped after 10 redirects")
		}
		return nil
	}
	return &g, nil
}

// cappedTransport refuses requests off the BMC's origin and caps bodies.
type cappedTransport struct {
	base http.RoundTripper
	want string
}

func (t cappedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if o := origin(r.URL); o != t.want {
		return nil, errOffOrigin{to: o, want: t.want}
	}
	resp, err := t.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	if resp.ContentLength > MaxBody {
		_ = resp.Body.Close()
		return nil, fmt.Errorf("%w (Content-Length %d)", ErrBodyTooLarge, resp.ContentLength)
	}
	resp.Body = &cappedBody{rc: resp.Body, left: MaxBody}
	return resp, nil
}

// cappedBody reads at most MaxBody bytes of rc and fails with
// ErrBodyTooLarge on the first byte beyond.
type cappedBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *cappedBody) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, ErrBodyTooLarge
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		return 0, ErrBodyTooLarge
	}
	return n, err
}

func (b *cappedBody) Close() error { return b.rc.Close() }
