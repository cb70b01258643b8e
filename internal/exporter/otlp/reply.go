package otlp

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// DefaultMaxRetryAfter caps the wait that a collector's Retry-After (or
// gRPC RetryInfo) asks for: every export carries the totals since start,
// so waiting loses nothing but freshness, and a collector asking for an
// hour still hears from the agent within this.
const DefaultMaxRetryAfter = 2 * time.Minute

// reply is what the HTTP transport saw of the collector's answer to one
// export: the SDK's error carries neither the status nor Retry-After.
type reply struct {
	status     int
	retryAfter time.Duration // 0: none
}

type replyKey struct{}

// withReply returns ctx carrying a reply for replyTransport to fill.
func withReply(ctx context.Context) (context.Context, *reply) {
	r := &reply{}
	return context.WithValue(ctx, replyKey{}, r), r
}

// replyTransport records the status and Retry-After of every response in
// the reply its request's context carries.
type replyTransport struct{ base http.RoundTripper }

func (t replyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err == nil {
		if r, ok := req.Context().Value(replyKey{}).(*reply); ok {
			r.status = resp.StatusCode
			r.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		}
	}
	return resp, err
}

// parseRetryAfter reads Retry-After (RFC 9110 10.2.3): whole seconds or
// an HTTP date; 0 when absent, malformed or past.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseUint(v, 10, 32); err == nil {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// judge says what a failed export calls for: refused (the collector
// rejected the request itself: an HTTP 4xx other than 429, or the gRPC
// codes that mean the same; retrying the same request cannot help), and
// how long the collector asked to be left alone (Retry-After, gRPC
// RetryInfo; 0 when it did not say).
func judge(err error, r *reply) (refused bool, after time.Duration) {
	if r != nil && r.status != 0 {
		switch {
		case r.status == http.StatusTooManyRequests:
			return false, r.retryAfter
		case r.status >= 400 && r.status < 500:
			return true, 0
		default:
			return false, r.retryAfter
		}
	}
	var ge interface{ GRPCStatus() *status.Status }
	if !errors.As(err, &ge) {
		return false, 0
	}
	s := ge.GRPCStatus()
	switch s.Code() {
	case codes.InvalidArgument, codes.NotFound, codes.AlreadyExists, codes.PermissionDenied,
		codes.Unauthenticated, codes.FailedPrecondition, codes.Unimplemented:
		return true, 0
	}
	for _, d := range s.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok && ri.GetRetryDelay() != nil {
			return false, max(ri.GetRetryDelay().AsDuration(), 0)
		}
	}
	return false, 0
}
