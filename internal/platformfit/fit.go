package platformfit

import "math"

// Coefficients fits the window and returns every coefficient with its
// standard error and where it came from. It costs O(n·m²) for n ticks in
// the window and m learned terms, plus an m×m inversion per active-set
// step; it allocates a few slices of m² floats.
func (l *Learner) Coefficients() Fit {
	m := l.k + 1 // index 0: intercept
	priors := make([]Term, m)
	priors[0] = l.prior.Intercept
	copy(priors[1:], l.prior.Terms)
	val := make([]float64, m)
	se := make([]float64, m)
	st := make([]Status, m)
	fixed := make([]bool, m)
	for j, p := range priors {
		val[j], se[j] = p.Value, p.SD
	}
	fit := Fit{Samples: l.count}
	if l.count < l.opts.MinSamples {
		for j := range st {
			st[j] = PriorFewSamples
		}
		return assemble(fit, priors, val, se, st)
	}
	for j := 1; j < m; j++ {
		if l.spread(j-1) < l.opts.MinSpread {
			fixed[j], st[j] = true, PriorLowVariation
		}
	}
	var noise float64
	for range m + 1 { // each pass clamps one more term or ends
		free := freeIdx(fixed)
		if len(free) == 0 {
			noise = l.residualSD(val, nil, nil)
			break
		}
		b, cov, sigma, ok := l.solve(priors, val, fixed, free)
		if !ok {
			for _, j := range free {
				st[j] = PriorIllConditioned
			}
			noise = l.residualSD(val, nil, nil)
			break
		}
		worst, worstV := -1, 0.0
		for i, j := range free {
			val[j], se[j], st[j] = b[i], math.Sqrt(cov[i*len(free)+i]), Learned
			if b[i] < worstV {
				worst, worstV = j, b[i]
			}
		}
		noise = sigma
		if worst < 0 {
			break
		}
		val[worst], fixed[worst], st[worst] = 0, true, ClampedZero
	}
	fit.NoiseSD = noise
	return assemble(fit, priors, val, se, st)
}

func assemble(fit Fit, priors []Term, val, se []float64, st []Status) Fit {
	coef := func(j int) Coef {
		return Coef{Name: priors[j].Name, Value: val[j], StdErr: se[j], Prior: priors[j].Value, Status: st[j]}
	}
	fit.Intercept = coef(0)
	fit.Terms = make([]Coef, len(priors)-1)
	for j := range fit.Terms {
		fit.Terms[j] = coef(j + 1)
	}
	return fit
}

func freeIdx(fixed []bool) []int {
	var f []int
	for j, x := range fixed {
		if !x {
			f = append(f, j)
		}
	}
	return f
}

// sample returns tick t's regressor j (j = 0: the intercept's 1).
func (l *Learner) reg(t, j int) float64 {
	if j == 0 {
		return 1
	}
	return l.xs[t*l.k+j-1]
}

// spread is the standard deviation of activity i over the window.
func (l *Learner) spread(i int) float64 {
	var s, ss float64
	for t := range l.count {
		v := l.xs[t*l.k+i]
		s += v
		ss += v * v
	}
	n := float64(l.count)
	mean := s / n
	return math.Sqrt(math.Max(ss/n-mean*mean, 0))
}

// target is tick t's power less the fixed terms' part.
func (l *Learner) target(t int, val []float64, fixed []bool) float64 {
	y := l.ys[t]
	for j, f := range fixed {
		if f {
			y -= val[j] * l.reg(t, j)
		}
	}
	return y
}

// residualSD is the residuals' standard deviation with every coefficient at
// val (b, free: the free ones' values override, when given).
func (l *Learner) residualSD(val []float64, b []float64, free []int) float64 {
	v := append([]float64(nil), val...)
	for i, j := range free {
		v[j] = b[i]
	}
	var rss float64
	for t := range l.count {
		r := l.ys[t]
		for j := range v {
			r -= v[j] * l.reg(t, j)
		}
		rss += r * r
	}
	return math.Sqrt(rss / float64(l.count))
}

// solve fits the free coefficients with the fixed ones held at val: the
// posterior mean b = (A + Λ)⁻¹ (c + Λ p) with A = ZᵀZ, c = Zᵀy', Λ =
// σ²/SD², the noise variance σ² re-estimated from the residuals a few
// times (RSS over n − the fit's effective degrees of freedom, floored).
// It returns b, the posterior covariance σ² (A + Λ)⁻¹ (m×m, row-major),
// σ, and false when the system is singular.
func (l *Learner) solve(priors []Term, val []float64, fixed []bool, free []int) ([]float64, []float64, float64, bool) {
	m := len(free)
	a := make([]float64, m*m)
	c := make([]float64, m)
	var ysum, yss float64
	for t := range l.count {
		y := l.target(t, val, fixed)
		ysum += y
		yss += y * y
		for r, jr := range free {
			zr := l.reg(t, jr)
			c[r] += zr * y
			for s := r; s < m; s++ {
				a[r*m+s] += zr * l.reg(t, free[s])
			}
		}
	}
	for r := range m {
		for s := 0; s < r; s++ {
			a[r*m+s] = a[s*m+r]
		}
	}
	n := float64(l.count)
	floor := l.opts.NoiseFloor * l.opts.NoiseFloor
	// Start from the target's own variance: the prior is weighed as if the
	// regressors explained nothing, then the residuals tell.
	sigma2 := math.Max(yss/n-(ysum/n)*(ysum/n), floor)
	mat := make([]float64, m*m)
	inv := make([]float64, m*m)
	rhs := make([]float64, m)
	b := make([]float64, m)
	for range noiseIterations {
		copy(mat, a)
		copy(rhs, c)
		for i, j := range free {
			if sd := priors[j].SD; !math.IsInf(sd, 1) {
				lam := sigma2 / (sd * sd)
				mat[i*m+i] += lam
				rhs[i] += lam * priors[j].Value
			}
		}
		if !invert(mat, inv, m) {
			return nil, nil, 0, false
		}
		for r := range m {
			var s float64
			for q := range m {
				s += inv[r*m+q] * rhs[q]
			}
			b[r] = s
		}
		// effective degrees of freedom: trace((A+Λ)⁻¹ A)
		var dof float64
		for r := range m {
			for q := range m {
				dof += inv[r*m+q] * a[q*m+r]
			}
		}
		var rss float64
		for t := range l.count {
			res := l.target(t, val, fixed)
			for i, j := range free {
				res -= b[i] * l.reg(t, j)
			}
			rss += res * res
		}
		sigma2 = math.Max(rss/math.Max(n-dof, 1), floor)
	}
	cov := make([]float64, m*m)
	for i := range cov {
		cov[i] = sigma2 * inv[i]
	}
	return b, cov, math.Sqrt(sigma2), true
}

// invert writes the inverse of the m×m matrix a (which it overwrites) into
// inv by Gauss–Jordan elimination with partial pivoting; false when a pivot
// is negligible against the matrix's scale.
func invert(a, inv []float64, m int) bool {
	var scale float64
	for i := range m {
		scale = math.Max(scale, math.Abs(a[i*m+i]))
	}
	for i := range inv {
		inv[i] = 0
	}
	for i := range m {
		inv[i*m+i] = 1
	}
	tol := 1e-12 * math.Max(scale, 1)
	for col := range m {
		p := col
		for r := col + 1; r < m; r++ {
			if math.Abs(a[r*m+col]) > math.Abs(a[p*m+col]) {
				p = r
			}
		}
		if math.Abs(a[p*m+col]) <= tol {
			return false
		}
		if p != col {
			for q := range m {
				a[p*m+q], a[col*m+q] = a[col*m+q], a[p*m+q]
				inv[p*m+q], inv[col*m+q] = inv[col*m+q], inv[p*m+q]
			}
		}
		d := a[col*m+col]
		for q := range m {
			a[col*m+q] /= d
			inv[col*m+q] /= d
		}
		for r := range m {
			if r == col {
				continue
			}
			f := a[r*m+col]
			if f == 0 {
				continue
			}
			for q := range m {
				a[r*m+q] -= f * a[col*m+q]
				inv[r*m+q] -= f * inv[col*m+q]
			}
		}
	}
	return true
}
