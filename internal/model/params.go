package model

// Params are the model's coefficients. DefaultParams holds the values
// fitted by `go run ./cmd/modelerror -fit` on internal/model/testdata;
// docs/estimation.md lists them with their sources.
type Params struct {
	// PSUEfficiency η: 0.92 is the 80 PLUS Platinum requirement for
	// 230 V internal redundant server supplies between 20 % (90 %) and
	// 50 % (94 %) load (80 PLUS programme; the SPECpower servers use
	// Platinum or Titanium supplies). Not fitted.
	PSUEfficiency float64
	// FullFrac a: package power at 100 % load as a fraction of TDP, per
	// Arch.Idle group; "default" for groups without enough results.
	FullFrac map[string]float64
	// IdleFrac i: package power at idle as a fraction of TDP, per
	// Arch.Idle group; "default" for groups without enough results.
	IdleFrac map[string]float64
	// MemIdleW, MemFullW: memory watts per GB at idle and at full load.
	MemIdleW, MemFullW float64
	// Board: the rest of the machine before the power supply, per
	// Arch.Class.
	Board map[string]Board
	// Shape: the load-curve shape per Arch.Shape group; "default" for
	// groups without published curves.
	Shape map[string]Shape
	// HostSockets is the number of sockets assumed for the host of a
	// virtual machine (two-socket hosts are the common cloud building
	// block). Not fitted.
	HostSockets int
}

// Board is the board, fans, drives and network of a machine: Base watts
// plus PerSocket watts for each socket.
type Board struct{ Base, PerSocket float64 }

// Shape is the load-curve shape f(u) = Wake·min(u/0.1,1) + (1−Wake)·u^Exp.
type Shape struct{ Wake, Exp float64 }

func (p Params) idleFrac(group string) float64 {
	if v, ok := p.IdleFrac[group]; ok {
		return v
	}
	return p.IdleFrac["default"]
}

func (p Params) fullFrac(group string) float64 {
	if v, ok := p.FullFrac[group]; ok {
		return v
	}
	return p.FullFrac["default"]
}

func (p Params) board(class string) Board {
	if b, ok := p.Board[class]; ok {
		return b
	}
	return p.Board[ClassServer]
}

func (p Params) shape(group string) Shape {
	if s, ok := p.Shape[group]; ok {
		return s
	}
	return p.Shape["default"]
}

// clone returns a deep copy, so fitting can vary one copy.
func (p Params) clone() Params {
	q := p
	q.IdleFrac = copyMap(p.IdleFrac)
	q.FullFrac = copyMap(p.FullFrac)
	q.Board = copyMap(p.Board)
	q.Shape = copyMap(p.Shape)
	return q
}

func copyMap[V any](m map[string]V) map[string]V {
	out := make(map[string]V, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// DefaultParams returns the coefficients fitted to the published results in
// internal/model/testdata/specpower. Regenerate with
// `go run ./cmd/modelerror -fit`; TestDefaultParamsAreFitted fails when
// they drift from the data.
func DefaultParams() Params {
	return Params{
		PSUEfficiency: 0.92,
		HostSockets:   2,
		IdleFrac: map[string]float64{
			"amd-genoa":   0.0700,
			"amd-milan":   0.0663,
			"amd-naples":  0.0954,
			"amd-rome":    0.0828,
			"amd-turin":   0.0709,
			"arm":         0.1178,
			"default":     0.0797,
			"intel-entry": 0.1188,
			"intel-icx":   0.1152,
			"intel-skx":   0.0051,
			"intel-spr":   0.1452,
			"intel-xeon6": 0.1528,
		},
		FullFrac: map[string]float64{
			"amd-genoa":   0.7220,
			"amd-milan":   0.6152,
			"amd-naples":  0.5614,
			"amd-rome":    0.6924,
			"amd-turin":   0.7130,
			"arm":         0.4458,
			"default":     0.7691,
			"intel-entry": 0.6227,
			"intel-icx":   0.8870,
			"intel-skx":   0.8058,
			"intel-spr":   0.8962,
			"intel-xeon6": 0.8494,
		},
		MemIdleW: 0.0404,
		MemFullW: 0.1649,
		Board: map[string]Board{
			"entry":  {Base: 4.45, PerSocket: 0.00},
			"server": {Base: 17.66, PerSocket: 13.03},
		},
		Shape: map[string]Shape{
			"amd-server":   {Wake: 0.1600, Exp: 1.1575},
			"default":      {Wake: 0.1700, Exp: 1.5650},
			"entry":        {Wake: 0.1013, Exp: 2.4625},
			"intel-server": {Wake: 0.1731, Exp: 1.6575},
		},
	}
}
