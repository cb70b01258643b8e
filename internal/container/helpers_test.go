package container

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// logRecorder is a slog.Handler that keeps every record.
type logRecorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.records = append(l.records, r.Clone())
	l.mu.Unlock()
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

// count returns how many records at level have a message containing msg.
func (l *logRecorder) count(level slog.Level, msg string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, r := range l.records {
		if r.Level == level && strings.Contains(r.Message, msg) {
			n++
		}
	}
	return n
}

// countAll returns how many records, any level, contain msg.
func (l *logRecorder) countAll(msg string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, r := range l.records {
		if strings.Contains(r.Message, msg) {
			n++
		}
	}
	return n
}

// newTestEnricher starts an Enricher that stops with the test.
func newTestEnricher(t *testing.T, cfg Config) (*Enricher, *logRecorder) {
	t.Helper()
	rec := &logRecorder{}
	e := NewEnricher(t.Context(), cfg, slog.New(rec))
	t.Cleanup(func() { _ = e.Close() })
	return e, rec
}
