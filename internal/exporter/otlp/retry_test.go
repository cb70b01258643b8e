package otlp

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/wattlens/wattlens/internal/polltest"
)

// statusCollector answers each export with the status (and Retry-After)
// that answer gives for the n-th request, counting from 1, and records
// when each arrived.
type statusCollector struct {
	srv    *httptest.Server
	mu     sync.Mutex
	times  []time.Time
	answer func(n int) (status int, retryAfter string)
}

func newStatusCollector(t *testing.T, answer func(int) (int, string)) *statusCollector {
	t.Helper()
	c := &statusCollector{answer: answer}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		c.mu.Lock()
		c.times = append(c.times, time.Now())
		n := len(c.times)
		c.mu.Unlock()
		code, after := c.answer(n)
		if after != "" {
			w.Header().Set("Retry-After", after)
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(code)
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *statusCollector) arrivals() []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Time(nil), c.times...)
}

// runAgainst starts an Exporter with the real HTTP client against c, with
// a short backoff, exports one snapshot and returns it and its stop.
func runAgainst(t *testing.T, c *statusCollector, maxRetryAfter time.Duration) (*Exporter, func()) {
	t.Helper()
	client, _, err := NewClient(context.Background(), ClientOptions{Protocol: "http", Endpoint: c.srv.URL,
		Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	x := mustNew(t, Options{Client: client, MinBackoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond, MaxRetryAfter: maxRetryAfter})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { x.Run(ctx); close(done) }()
	if err := x.Export(ctx, fixedSnapshot()); err != nil {
		t.Fatal(err)
	}
	stop := func() { cancel(); <-done }
	t.Cleanup(stop)
	return x, stop
}

// TestRetryAfter: a collector that answers 429 or 503 with Retry-After is
// retried no sooner than it asks, although the backoff is 10 ms.
func TestRetryAfter(t *testing.T) {
	for _, code := range []int{http.StatusTooManyRequests, http.StatusServiceUnavailable} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			c := newStatusCollector(t, func(n int) (int, string) {
				if n == 1 {
					return code, "1"
				}
				return http.StatusOK, ""
			})
			runAgainst(t, c, 0)
			polltest.Until(t, "the retry", func() bool { return len(c.arrivals()) >= 2 })
			at := c.arrivals()
			if gap := at[1].Sub(at[0]); gap < time.Second {
				t.Errorf("retried %v after a %d with Retry-After: 1", gap, code)
			}
		})
	}
}

// TestRetryAfterCapped: a Retry-After of an hour waits MaxRetryAfter.
func TestRetryAfterCapped(t *testing.T) {
	c := newStatusCollector(t, func(n int) (int, string) {
		if n == 1 {
			return http.StatusTooManyRequests, "3600"
		}
		return http.StatusOK, ""
	})
	runAgainst(t, c, 200*time.Millisecond)
	polltest.Until(t, "the retry after the capped wait", func() bool { return len(c.arrivals()) >= 2 })
	at := c.arrivals()
	if gap := at[1].Sub(at[0]); gap < 200*time.Millisecond {
		t.Errorf("retried %v after Retry-After: 3600 capped at 200ms", gap)
	}
}

// TestRefusedNotRetried: a 4xx other than 429 is not retried: the same
// collection is sent once, and the next one (the next step) once more. A
// 500 is retried.
func TestRefusedNotRetried(t *testing.T) {
	for _, code := range []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusRequestEntityTooLarge} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			c := newStatusCollector(t, func(int) (int, string) { return code, "" })
			x, stop := runAgainst(t, c, 0)
			polltest.Until(t, "the first attempt", func() bool { return len(c.arrivals()) >= 1 })
			time.Sleep(300 * time.Millisecond) // 10 backoffs and more
			if n := len(c.arrivals()); n != 1 {
				t.Fatalf("%d attempts at one collection refused with %d, want 1", n, code)
			}
			if err := x.Export(context.Background(), fixedSnapshot()); err != nil {
				t.Fatal(err)
			}
			polltest.Until(t, "the next step's attempt", func() bool { return len(c.arrivals()) >= 2 })
			stop()
		})
	}
	t.Run("500", func(t *testing.T) {
		c := newStatusCollector(t, func(n int) (int, string) {
			if n < 3 {
				return http.StatusInternalServerError, ""
			}
			return http.StatusOK, ""
		})
		runAgainst(t, c, 0)
		polltest.Until(t, "retries after 500", func() bool { return len(c.arrivals()) >= 3 })
	})
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 7, 4, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"", 0}, {"30", 30 * time.Second}, {" 2 ", 2 * time.Second}, {"-1", 0}, {"soon", 0},
		{"Mon, 07 Dec 2026 04:00:10 GMT", 10 * time.Second},
		{"Mon, 07 Dec 2026 03:59:00 GMT", 0},
		{"99999999999", 0},
	} {
		if got := parseRetryAfter(tc.in, now); got != tc.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
