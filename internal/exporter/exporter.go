// Package exporter declares what the push- and stream-shaped exporters
// (stdout, json, prometheus-push, qemu, …) implement. One package per
// exporter lives below this one. The pull-shaped prometheus exporter reads
// the latest snapshot from a Store instead. What the listing exporters
// share — which processes to list and how the rest adds up (Select, Filter)
// — is here too.
package exporter

import (
	"context"
	"sync/atomic"

	"github.com/wattlens/wattlens/internal/snapshot"
)

// Exporter ships one snapshot. It is called once per tick, from one
// goroutine. An error is logged by the caller and the agent keeps running:
// an exporter never loses what was measured because a target is down.
type Exporter interface {
	Export(ctx context.Context, s *snapshot.Snapshot) error
}

// Store holds the latest snapshot for readers that pull (a Prometheus
// scrape). Set and Latest are safe for concurrent use; Latest never blocks
// and never triggers a read.
type Store struct {
	p atomic.Pointer[snapshot.Snapshot]
}

// Set publishes s as the latest snapshot.
func (st *Store) Set(s *snapshot.Snapshot) { st.p.Store(s) }

// Latest returns the latest snapshot, or nil before the first tick.
func (st *Store) Latest() *snapshot.Snapshot { return st.p.Load() }

// Export makes a Store an Exporter: it publishes every snapshot.
func (st *Store) Export(_ context.Context, s *snapshot.Snapshot) error {
	st.Set(s)
	return nil
}
