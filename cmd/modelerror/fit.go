package main

import (
	"math"
	"sort"

	"github.com/wattlens/wattlens/internal/model"
)

// minGroupRows is the number of results an idle group needs before it gets
// its own coefficient; smaller groups share "default".
const minGroupRows = 3

// The CPU idle fraction and the board cannot be told apart from wall power
// when a group's machines are alike (entry servers: one socket, 72–95 W
// TDP). A weak prior pulls each group's idle fraction towards idlePrior
// where the data are indifferent: 0.10 is AnandTech's measured package
// idle of Cascade Lake-SP and Ice Lake-SP, about 27 W per socket of
// 205–270 W TDP ("Intel 3rd Gen Xeon Scalable (Ice Lake SP) Review",
// 2021-04-06, page "Power & Efficiency"). With weight 10, moving a group's
// idle fraction by 0.01 costs as much as one result off by 10 %. It raises
// the cross-validated error by 0.2 points (docs/estimation.md).
const (
	idlePrior       = 0.10
	idlePriorWeight = 10.0
)

// Fit fits the coefficients: the TDP fallback to the published TDPs of
// specs (FitTDP), the idle fractions, CPU full-load fraction, memory and
// board coefficients to the idle and full-load power of results (weighted
// least squares on relative error, all coefficients ≥ 0; a CPU without a
// table row counts with its fallback TDP), then the load-curve shapes to
// curves. PSUEfficiency and HostSockets are kept from base.
func Fit(results, curves []Sample, specs []TDPSpec, base model.Params) model.Params {
	base = base.Clone()
	base.TDP = FitTDP(specs)
	return fitShapes(curves, fitLinear(results, base))
}

// design is one linear equation: w · (x · β − y).
type design struct {
	x     map[string]float64
	y, w  float64
	prior bool // a prior's pull, not a measurement
}

func fitLinear(results []Sample, base model.Params) model.Params {
	counts := map[string]int{}
	for _, s := range results {
		counts[model.ForParams(s.Machine, base).Match().Arch.Idle]++
	}
	var eqs []design
	for _, s := range results {
		eqs = append(eqs, equations(s, counts, base)...)
	}
	for g, n := range counts {
		if n >= minGroupRows {
			eqs = append(eqs, design{x: map[string]float64{"i:" + g: 1}, y: idlePrior, w: idlePriorWeight, prior: true})
		}
	}
	beta := nnlsL1(eqs)
	p := base.Clone()
	p.IdleFrac = map[string]float64{}
	p.FullFrac = map[string]float64{}
	p.MemByClass = map[string]model.Memory{}
	p.SocketW = map[string]float64{}
	for k, v := range beta {
		switch {
		case len(k) > 2 && k[:2] == "a:":
			p.FullFrac[k[2:]] = v
		case k == "m0:"+model.MemModern:
			p.MemIdleW = v
		case k == "m1:"+model.MemModern:
			p.MemFullW = v
		case len(k) > 3 && k[:3] == "m0:":
			m := p.MemByClass[k[3:]]
			m.IdleW = v
			p.MemByClass[k[3:]] = m
		case len(k) > 3 && k[:3] == "m1:":
			m := p.MemByClass[k[3:]]
			m.FullW = v
			p.MemByClass[k[3:]] = m
		case len(k) > 2 && k[:2] == "s:":
			p.SocketW[k[2:]] = v
		case len(k) > 2 && k[:2] == "i:":
			p.IdleFrac[k[2:]] = v
		}
	}
	for _, class := range []string{model.ClassServer, model.ClassEntry, model.ClassServerOld, model.ClassEntryOld} {
		b := base.BoardFor(class)
		if v, ok := beta["B:"+class]; ok {
			b.Base = v
		}
		b.PerSocket = 0 // per generation group now: SocketW
		p.Board[class] = b
	}
	p.IdleFrac["default"] = weightedMean(p.IdleFrac, counts)
	p.FullFrac["default"] = weightedMean(p.FullFrac, counts)
	p.SocketW["default"] = weightedMean(p.SocketW, counts)
	return p
}

// equations returns the idle and full-load equations of a result.
func equations(s Sample, counts map[string]int, p model.Params) []design {
	md := model.ForParams(s.Machine, p)
	m, eta := md.Match(), p.PSUEfficiency
	group := m.Arch.Idle
	if counts[group] < minGroupRows || group == "default" {
		return nil // too few results to tell this group's idle fraction
	}
	sock := float64(max(s.Machine.Sockets, 1))
	tdp := sock * md.TDP()
	board := map[string]float64{"B:" + m.Arch.Class: 1, "s:" + group: sock}
	var out []design
	for i, load := range s.Loads {
		x := map[string]float64{}
		for k, v := range board {
			x[k] = v
		}
		switch load {
		case 0:
			x["i:"+group], x["m0:"+model.MemGroup(m.Arch)] = tdp, s.Machine.MemoryGB
		case 100:
			x["a:"+group], x["m1:"+model.MemGroup(m.Arch)] = tdp, s.Machine.MemoryGB
		default:
			continue
		}
		y := eta * s.Watts[i]
		out = append(out, design{x: x, y: y, w: 1 / y})
	}
	return out
}

// irlsRounds and irlsFloor: the absolute relative error is minimised by
// iteratively reweighted least squares, each result's weight divided by the
// square root of its relative error in the previous round (floored at 2 %,
// so a result already fitted well does not take all the weight). The
// report's figure is the mean absolute percentage error, so the fit
// minimises that, not the squares, which let a few outliers (a blade
// enclosure's share, a 2004 server) pull every coefficient.
const (
	irlsRounds = 8
	irlsFloor  = 0.02
)

// nnlsL1 solves min Σ |x·β − y| / y (the equations' own weights kept for
// the prior equations, whose y is not a power) subject to β ≥ 0.
func nnlsL1(eqs []design) map[string]float64 {
	beta := nnls(eqs)
	w := make([]design, len(eqs))
	copy(w, eqs)
	for range irlsRounds {
		for i, e := range eqs {
			if e.prior {
				continue
			}
			r := e.y
			for k, v := range e.x {
				r -= beta[k] * v
			}
			w[i].w = e.w / math.Sqrt(math.Max(math.Abs(r)*e.w, irlsFloor))
		}
		beta = nnls(w)
	}
	return beta
}

// nnls solves min Σ (w(x·β − y))² subject to β ≥ 0 by cyclic coordinate
// descent on the normal equations.
func nnls(eqs []design) map[string]float64 {
	var names []string
	idx := map[string]int{}
	for _, e := range eqs {
		for k := range e.x {
			if _, ok := idx[k]; !ok {
				idx[k] = len(names)
				names = append(names, k)
			}
		}
	}
	sort.Strings(names)
	for i, n := range names {
		idx[n] = i
	}
	n := len(names)
	q := make([][]float64, n)
	for i := range q {
		q[i] = make([]float64, n)
	}
	c := make([]float64, n)
	for _, e := range eqs {
		w2 := e.w * e.w
		for ki, vi := range e.x {
			c[idx[ki]] += w2 * vi * e.y
			for kj, vj := range e.x {
				q[idx[ki]][idx[kj]] += w2 * vi * vj
			}
		}
	}
	beta := make([]float64, n)
	for sweep := 0; sweep < 200000; sweep++ {
		moved := 0.0
		for j := range beta {
			if q[j][j] == 0 {
				continue
			}
			g := -c[j]
			for k := range beta {
				g += q[j][k] * beta[k]
			}
			nb := math.Max(0, beta[j]-g/q[j][j])
			moved = math.Max(moved, math.Abs(nb-beta[j]))
			beta[j] = nb
		}
		if moved < 1e-12 {
			break
		}
	}
	out := map[string]float64{}
	for i, nm := range names {
		out[nm] = beta[i]
	}
	return out
}

func weightedMean(fracs map[string]float64, counts map[string]int) float64 {
	sum, n := 0.0, 0
	for g, v := range fracs {
		sum += v * float64(counts[g])
		n += counts[g]
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}

// prepared is a curve sample reduced to what the shape changes:
// wall(u) = wall0 + dcpu·f(u) + dmem·u.
type prepared struct {
	group             string
	wall0, dcpu, dmem float64
	loads, watts      []float64
}

func prepare(s Sample, p model.Params) (prepared, bool) {
	md := model.ForParams(s.Machine, p)
	lo, hi := md.Power(0), md.Power(1)
	eta := p.PSUEfficiency
	return prepared{group: md.Match().Arch.Shape, wall0: lo.Wall, dcpu: (hi.CPU - lo.CPU) / eta,
		dmem: (hi.Memory - lo.Memory) / eta, loads: s.Loads, watts: s.Watts}, true
}

// fitShapes fits one shape per group that has at least two curves, and
// "default" to all curves.
func fitShapes(curves []Sample, p model.Params) model.Params {
	var all []prepared
	groups := map[string][]prepared{}
	for _, s := range curves {
		if pr, ok := prepare(s, p); ok {
			all = append(all, pr)
			groups[pr.group] = append(groups[pr.group], pr)
		}
	}
	p = p.Clone()
	if len(all) > 0 {
		p.Shape = map[string]model.Shape{"default": bestShape(all)}
	}
	for g, prs := range groups {
		if len(prs) >= 2 {
			p.Shape[g] = bestShape(prs)
		}
	}
	return p
}

// bestShape grid-searches the shape with the least mean absolute relative
// error over the intermediate load levels, then refines around it.
func bestShape(prs []prepared) model.Shape {
	best, bestErr := model.Shape{}, math.Inf(1)
	try := func(s model.Shape) {
		if s.Wake < 0 || s.Wake > 1 || s.Exp <= 0 {
			return
		}
		if e := shapeError(prs, s); e < bestErr {
			best, bestErr = s, e
		}
	}
	for w := 0.0; w <= 0.6001; w += 0.02 {
		for g := 0.5; g <= 3.0001; g += 0.05 {
			try(model.Shape{Wake: w, Exp: g})
		}
	}
	for step := 0.01; step > 0.0005; step /= 2 {
		c := best
		for dw := -2; dw <= 2; dw++ {
			for dg := -2; dg <= 2; dg++ {
				try(model.Shape{Wake: c.Wake + float64(dw)*step, Exp: c.Exp + 2*float64(dg)*step})
			}
		}
	}
	return model.Shape{Wake: round4(best.Wake), Exp: round4(best.Exp)}
}

func shapeError(prs []prepared, s model.Shape) float64 {
	sum, n := 0.0, 0
	for _, pr := range prs {
		for i, l := range pr.loads {
			if l <= 0 || l >= 100 {
				continue
			}
			u := l / 100
			w := pr.wall0 + pr.dcpu*s.At(u) + pr.dmem*u
			sum += math.Abs(w-pr.watts[i]) / pr.watts[i]
			n++
		}
	}
	return sum / float64(max(n, 1))
}

func round4(x float64) float64 { return math.Round(x*10000) / 10000 }
