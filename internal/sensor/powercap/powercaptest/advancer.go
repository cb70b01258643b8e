package powercaptest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// tick is how often a started Advancer writes the counters.
const tick = 50 * time.Millisecond

// Advancer drives energy counters of a fixture tree at a steady power, as
// the hardware would: each step adds watts × elapsed to a zone's energy_uj,
// modulo its range, and writes it atomically. It keeps count of what it
// added, exactly, so a test can check a reader against it.
//
// The counters wrap at the range in max_energy_range_uj; a reader must
// sample each zone at least once per range's worth of energy.
type Advancer struct {
	root     string
	maxRange uint64
	watts    map[string]float64

	mu     sync.Mutex
	zones  map[string]*advZone // nil until the first Start or Step
	last   time.Time
	err    error
	cancel context.CancelFunc
	done   chan struct{}
}

type advZone struct {
	id     string
	dir    string
	watts  float64
	energy uint64  // the counter as last written
	max    uint64  // wrap range; 0 for none
	carry  float64 // fraction of a microjoule not written yet
	// written is what was added to the counter, in µJ, before wrapping.
	written uint64
}

// NewAdvancer returns an Advancer for the tree at root that drives each
// zone in zones (zone ID → watts). When maxRange is not 0, the first Start
// or Step writes it to each driven zone's max_energy_range_uj (and brings
// energy_uj within it): do that before a sensor reads the tree, since
// sensors read the range once. When it is 0, each zone keeps its own.
func NewAdvancer(root string, zones map[string]float64, maxRange uint64) *Advancer {
	return &Advancer{root: root, maxRange: maxRange, watts: maps.Clone(zones)}
}

// Start writes the counters every ~50 ms, by the time elapsed, until ctx
// is done or Stop is called. It returns once the zones are set up.
func (a *Advancer) Start(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.done != nil {
		return errors.New("powercaptest: advancer already started")
	}
	if err := a.setUp(); err != nil {
		return err
	}
	ctx, a.cancel = context.WithCancel(ctx)
	a.done = make(chan struct{})
	a.last = time.Now()
	go a.loop(ctx)
	return nil
}

// Stop stops a started Advancer after a last step for the time since the
// previous one, and returns the first error any step met.
func (a *Advancer) Stop() error {
	a.mu.Lock()
	cancel, done := a.cancel, a.done
	a.mu.Unlock()
	if done == nil {
		return nil
	}
	cancel()
	<-done
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.err
}

// Step advances every zone by its power over d, now. It is for tests that
// want exact figures without a clock; it may also be mixed with Start.
func (a *Advancer) Step(d time.Duration) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.setUp(); err != nil {
		return err
	}
	return a.step(d)
}

// Written returns the energy, in joules, added to zone id so far.
func (a *Advancer) Written(id string) float64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	z, ok := a.zones[id]
	if !ok {
		return 0
	}
	return float64(z.written) / 1e6
}

func (a *Advancer) loop(ctx context.Context) {
	defer close(a.done)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			a.advance()
			return
		case <-t.C:
			a.advance()
		}
	}
}

// advance steps by the time since the last step.
func (a *Advancer) advance() {
	now := time.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	d := now.Sub(a.last)
	a.last = now
	if err := a.step(d); err != nil && a.err == nil {
		a.err = err
	}
}

// setUp finds the driven zones and reads their counters, once.
func (a *Advancer) setUp() error {
	if a.zones != nil {
		return nil
	}
	zones := make(map[string]*advZone, len(a.watts))
	for _, id := range slices.Sorted(maps.Keys(a.watts)) {
		z, err := a.setUpZone(id)
		if err != nil {
			return err
		}
		zones[id] = z
	}
	a.zones = zones
	return nil
}

func (a *Advancer) setUpZone(id string) (*advZone, error) {
	dir, err := ZoneDir(a.root, id)
	if err != nil {
		return nil, err
	}
	z := &advZone{id: id, dir: dir, watts: max(a.watts[id], 0)}
	if a.maxRange != 0 {
		z.max = a.maxRange
		if err := writeAtomic(filepath.Join(dir, "max_energy_range_uj"), strconv.FormatUint(z.max, 10)+"\n"); err != nil {
			return nil, err
		}
	} else if z.max, err = readUint(filepath.Join(dir, "max_energy_range_uj")); err != nil {
		return nil, err
	}
	if z.energy, err = readUint(filepath.Join(dir, "energy_uj")); err != nil {
		return nil, err
	}
	if z.max != 0 && z.energy >= z.max {
		z.energy %= z.max
		if err := z.write(); err != nil {
			return nil, err
		}
	}
	return z, nil
}

// step adds each zone's energy over d. A zone that cannot be written (it
// was removed) gets nothing for d, as a vanished counter counts nothing.
func (a *Advancer) step(d time.Duration) error {
	var errs []error
	for _, id := range slices.Sorted(maps.Keys(a.zones)) {
		z := a.zones[id]
		uj := z.watts*d.Seconds()*1e6 + z.carry
		whole := math.Floor(uj)
		z.carry = uj - whole
		add := uint64(whole)
		prev := z.energy
		z.energy = wrapAdd(prev, add, z.max)
		if err := z.write(); err != nil {
			z.energy = prev
			errs = append(errs, err)
			continue
		}
		z.written += add
	}
	return errors.Join(errs...)
}

func (z *advZone) write() error {
	return writeAtomic(filepath.Join(z.dir, "energy_uj"), strconv.FormatUint(z.energy, 10)+"\n")
}

// wrapAdd returns (e + add) modulo max, or e + add when max is 0; e < max.
func wrapAdd(e, add, max uint64) uint64 {
	if max == 0 {
		return e + add
	}
	add %= max
	if e >= max-add {
		return e - (max - add)
	}
	return e + add
}

func readUint(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("powercaptest: %w", err)
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("powercaptest: %s: %w", path, err)
	}
	return v, nil
}
