package platformfit

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

// gen draws n ticks of activities from lo[i]..hi[i] (uniform) and the power
// truth·x + idle + Gaussian noise of sd watts.
type gen struct {
	idle  float64
	truth []float64
	lo    []float64
	hi    []float64
	sd    float64
}

func (g gen) feed(t *testing.T, l *Learner, n int, seed uint64) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 7))
	x := make([]float64, len(g.truth))
	for range n {
		p := g.idle
		for i := range x {
			x[i] = g.lo[i] + (g.hi[i]-g.lo[i])*r.Float64()
			p += g.truth[i] * x[i]
		}
		p += g.sd * r.NormFloat64()
		if err := l.Observe(p, x); err != nil {
			t.Fatal(err)
		}
	}
}

var basePrior = Prior{
	Intercept: Term{Name: "idle", Value: 60, SD: 40},
	Terms: []Term{
		{Name: "ssd", Value: 4, SD: 10},
		{Name: "net", Value: 3, SD: 5},
		{Name: "cpu", Value: 20, SD: 30},
	},
}

func within(t *testing.T, what string, c Coef, want, tol float64, st Status) {
	t.Helper()
	if c.Status != st {
		t.Errorf("%s: status %v, want %v", what, c.Status, st)
	}
	if math.Abs(c.Value-want) > tol {
		t.Errorf("%s = %.3f ± %.3f, want %.3f within %.3f", what, c.Value, c.StdErr, want, tol)
	}
	if c.Value < 0 {
		t.Errorf("%s negative: %v", what, c.Value)
	}
}

func TestLearner(t *testing.T) {
	full := []float64{1, 1, 1}
	zero := []float64{0, 0, 0}
	cases := []struct {
		name  string
		opts  Options
		g     gen
		n     int
		idle  float64 // want, with tolerance tolI
		tolI  float64
		want  []float64
		tol   []float64
		st    []Status
		stI   Status
		check func(t *testing.T, f Fit)
	}{
		{
			name: "truth recovered, prior wrong",
			g:    gen{idle: 85, truth: []float64{12, 6, 45}, lo: zero, hi: full, sd: 1},
			n:    300, idle: 85, tolI: 1.5, want: []float64{12, 6, 45}, tol: []float64{1, 1, 1.5},
			st: []Status{Learned, Learned, Learned},
			check: func(t *testing.T, f Fit) {
				for _, c := range f.Terms {
					if c.StdErr <= 0 || c.StdErr > 0.6 {
						t.Errorf("%s stderr %.3f, want in (0, 0.6] with 300 ticks at 1 W noise", c.Name, c.StdErr)
					}
				}
				if f.NoiseSD < 0.8 || f.NoiseSD > 1.2 {
					t.Errorf("noise sd %.3f, want ≈ 1", f.NoiseSD)
				}
			},
		},
		{
			name: "idle disk stays at prior",
			g:    gen{idle: 85, truth: []float64{30, 6, 45}, lo: zero, hi: []float64{0, 1, 1}, sd: 1},
			n:    300, idle: 85, tolI: 1.5, want: []float64{4, 6, 45}, tol: []float64{0, 1, 1.5},
			st: []Status{PriorLowVariation, Learned, Learned},
			check: func(t *testing.T, f Fit) {
				if f.Terms[0].StdErr != 10 {
					t.Errorf("held term's stderr %v, want the prior's SD 10", f.Terms[0].StdErr)
				}
			},
		},
		{
			name: "too few ticks: all prior",
			g:    gen{idle: 85, truth: []float64{12, 6, 45}, lo: zero, hi: full, sd: 1},
			n:    10, idle: 60, tolI: 0, want: []float64{4, 3, 20}, tol: []float64{0, 0, 0},
			st: []Status{PriorFewSamples, PriorFewSamples, PriorFewSamples}, stI: PriorFewSamples,
		},
		{
			name: "negative truth clamped at zero",
			g:    gen{idle: 85, truth: []float64{12, -8, 45}, lo: zero, hi: full, sd: 1},
			n:    300, idle: 81, tolI: 3, want: []float64{12, 0, 45}, tol: []float64{1.5, 0, 2.5},
			st: []Status{Learned, ClampedZero, Learned},
		},
		{
			name: "host never quiet: idle extrapolated",
			g:    gen{idle: 70, truth: []float64{12, 6, 45}, lo: []float64{0.2, 0.1, 0.5}, hi: []float64{0.8, 0.6, 1}, sd: 1},
			n:    300, idle: 70, tolI: 3, want: []float64{12, 6, 45}, tol: []float64{1.5, 1.5, 4},
			st: []Status{Learned, Learned, Learned},
		},
		{
			name: "heavy noise, short window: pulled towards the prior",
			opts: Options{Window: 40},
			g:    gen{idle: 85, truth: []float64{12, 6, 45}, lo: zero, hi: full, sd: 25},
			n:    400, idle: 85, tolI: 40, want: []float64{12, 6, 45}, tol: []float64{20, 10, 30},
			st: []Status{Learned, Learned, Learned},
			check: func(t *testing.T, f Fit) {
				// the net term's prior (3 ± 5) is far tighter than the data
				// (stderr ~ 25·√(12/40) ≈ 14): it must stay nearer the
				// prior than an unregularised fit's ±14 would put it.
				if c := f.Terms[1]; math.Abs(c.Value-3) > 8 || c.StdErr > 5 {
					t.Errorf("net %.2f ± %.2f: not held near its tight prior 3 ± 5", c.Value, c.StdErr)
				}
				if c := f.Terms[2]; c.StdErr < 5 {
					t.Errorf("cpu stderr %.2f: too confident for 25 W noise over 40 ticks", c.StdErr)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l, err := New(basePrior, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			tc.g.feed(t, l, tc.n, 1)
			f := l.Coefficients()
			within(t, "intercept", f.Intercept, tc.idle, tc.tolI, tc.stI)
			for i, c := range f.Terms {
				within(t, c.Name, c, tc.want[i], tc.tol[i], tc.st[i])
			}
			if tc.check != nil {
				tc.check(t, f)
			}
		})
	}
}

func TestWindowSlides(t *testing.T) {
	l, err := New(basePrior, Options{Window: 200})
	if err != nil {
		t.Fatal(err)
	}
	one := []float64{1, 1, 1}
	gen{idle: 50, truth: []float64{2, 2, 10}, lo: make([]float64, 3), hi: one, sd: 1}.feed(t, l, 200, 1)
	gen{idle: 90, truth: []float64{15, 8, 50}, lo: make([]float64, 3), hi: one, sd: 1}.feed(t, l, 200, 2)
	f := l.Coefficients()
	within(t, "intercept", f.Intercept, 90, 2, Learned)
	within(t, "ssd", f.Terms[0], 15, 1.5, Learned)
	within(t, "cpu", f.Terms[2], 50, 2, Learned)
	if l.Samples() != 200 {
		t.Errorf("samples %d, want the window's 200", l.Samples())
	}
	l.Reset()
	if f := l.Coefficients(); f.Intercept.Status != PriorFewSamples || f.Intercept.Value != 60 {
		t.Errorf("after Reset: %+v, want the prior", f.Intercept)
	}
}

func TestCollinearTermsShareTheirSum(t *testing.T) {
	l, err := New(basePrior, Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(3, 3))
	for range 300 {
		d, c := r.Float64(), r.Float64()
		// disk and network move together: only their sum is identifiable
		if err := l.Observe(80+20*d+40*c+r.NormFloat64(), []float64{d, d, c}); err != nil {
			t.Fatal(err)
		}
	}
	f := l.Coefficients()
	if s := f.Terms[0].Value + f.Terms[1].Value; math.Abs(s-20) > 1.5 {
		t.Errorf("ssd + net = %.2f, want 20", s)
	}
	if f.Terms[0].StdErr < 2 {
		t.Errorf("ssd stderr %.2f: a collinear term cannot be known to better than its prior allows", f.Terms[0].StdErr)
	}
	if got := f.Predict([]float64{0.5, 0.5, 0.5}); math.Abs(got-110) > 1.5 {
		t.Errorf("Predict = %.2f, want 110", got)
	}
}

func TestBadInput(t *testing.T) {
	l, err := New(basePrior, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		p    float64
		x    []float64
		want error
	}{
		{"short", 1, []float64{0, 0}, ErrDimension},
		{"nan power", math.NaN(), []float64{0, 0, 0}, ErrValue},
		{"inf activity", 1, []float64{0, math.Inf(1), 0}, ErrValue},
		{"negative activity", 1, []float64{0, -0.1, 0}, ErrValue},
	} {
		if err := l.Observe(tc.p, tc.x); !errors.Is(err, tc.want) {
			t.Errorf("%s: err %v, want %v", tc.name, err, tc.want)
		}
	}
	if l.Samples() != 0 {
		t.Errorf("refused ticks entered the window: %d", l.Samples())
	}
	if err := l.Observe(-2, []float64{0, 0, 0}); err != nil {
		t.Errorf("a remainder below zero (meter noise) must be accepted: %v", err)
	}
	for _, tc := range []struct {
		name string
		p    Prior
		o    Options
	}{
		{"negative prior", Prior{Intercept: Term{Value: -1, SD: 1}}, Options{}},
		{"zero SD", Prior{Intercept: Term{Value: 1, SD: 0}}, Options{}},
		{"nan SD", Prior{Intercept: Term{Value: 1, SD: 1}, Terms: []Term{{Value: 1, SD: math.NaN()}}}, Options{}},
		{"min samples past window", basePrior, Options{Window: 10, MinSamples: 20}},
		{"negative spread", basePrior, Options{MinSpread: -1}},
	} {
		if _, err := New(tc.p, tc.o); err == nil {
			t.Errorf("%s: New accepted it", tc.name)
		}
	}
}

func TestInfinitePriorSDCollinearIsIllConditioned(t *testing.T) {
	p := Prior{Intercept: Term{Value: 50, SD: math.Inf(1)}, Terms: []Term{{Name: "a", Value: 1, SD: math.Inf(1)}, {Name: "b", Value: 2, SD: math.Inf(1)}}}
	l, err := New(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(5, 5))
	for range 100 {
		a := r.Float64()
		if err := l.Observe(50+10*a, []float64{a, a}); err != nil {
			t.Fatal(err)
		}
	}
	f := l.Coefficients()
	if f.Terms[0].Status != PriorIllConditioned || f.Terms[0].Value != 1 {
		t.Errorf("collinear terms without a prior: %+v, want the prior kept, ill-conditioned", f.Terms[0])
	}
}

func BenchmarkObserveAndFit(b *testing.B) {
	l, err := New(basePrior, Options{Window: 300})
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 1))
	x := make([]float64, 3)
	for range 300 {
		for i := range x {
			x[i] = r.Float64()
		}
		_ = l.Observe(80+10*x[0]+5*x[1]+40*x[2]+r.NormFloat64(), x)
	}
	b.ReportAllocs()
	for b.Loop() {
		for i := range x {
			x[i] = r.Float64()
		}
		_ = l.Observe(80+10*x[0]+5*x[1]+40*x[2]+r.NormFloat64(), x)
		_ = l.Coefficients()
	}
}
