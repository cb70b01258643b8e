package polltest

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// recorder is a testing.TB that records a Fatalf instead of stopping the
// test, so that Until's failure can be checked.
type recorder struct {
	testing.TB
	mu     sync.Mutex
	failed string
}

func (r *recorder) Helper() {}

func (r *recorder) Fatalf(format string, args ...any) {
	r.mu.Lock()
	r.failed = fmt.Sprintf(format, args...)
	r.mu.Unlock()
	// Until must not go on after Fatalf: stop it with a panic that run
	// recovers (the testing package ends the goroutine with
	// runtime.Goexit instead).
	panic(errFatal)
}

var errFatal = fmt.Errorf("fatal")

func run(r *recorder, f func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			if p := recover(); p != nil && p != errFatal {
				panic(p)
			}
		}()
		f()
	}()
	<-done
}

func TestUntilReturnsOnceTheConditionHolds(t *testing.T) {
	var calls atomic.Int32
	r := &recorder{TB: t}
	run(r, func() {
		Until(r, "the third call", func() bool { return calls.Add(1) >= 3 })
	})
	if r.failed != "" {
		t.Fatalf("failed: %s", r.failed)
	}
	if n := calls.Load(); n != 3 {
		t.Errorf("cond called %d times, want 3", n)
	}
}

func TestWithinFailsAfterTheTimeout(t *testing.T) {
	r := &recorder{TB: t}
	start := time.Now()
	run(r, func() {
		Within(r, 30*time.Millisecond, time.Millisecond, "something that never happens", func() bool { return false })
	})
	if !strings.Contains(r.failed, "waiting for something that never happens") {
		t.Errorf("failure %q does not say what it waited for", r.failed)
	}
	if waited := time.Since(start); waited < 30*time.Millisecond {
		t.Errorf("gave up after %v, before the timeout", waited)
	}
}
