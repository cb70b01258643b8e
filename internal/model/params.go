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
	// TDP estimates the TDP per socket of a CPU without a table row.
	TDP TDPFit
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

// BoardFor returns the board coefficients of a machine class (Board's
// entry, else the server class's).
func (p Params) BoardFor(class string) Board {
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

// Clone returns a deep copy, so fitting (cmd/modelerror) can vary one
// copy.
func (p Params) Clone() Params {
	q := p
	q.IdleFrac = copyMap(p.IdleFrac)
	q.FullFrac = copyMap(p.FullFrac)
	q.Board = copyMap(p.Board)
	q.Shape = copyMap(p.Shape)
	q.TDP.Base = copyMap(p.TDP.Base)
	q.TDP.LogGHz = copyMap(p.TDP.LogGHz)
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
			"amd-client":    0.0995,
			"amd-genoa":     0.0735,
			"amd-milan":     0.0700,
			"amd-naples":    0.1019,
			"amd-opteron":   0.0323,
			"amd-rome":      0.0876,
			"amd-turin":     0.0710,
			"arm":           0.1299,
			"default":       0.0795,
			"intel-core2":   0.2263,
			"intel-e5":      0.0075,
			"intel-entry":   0.0239,
			"intel-icx":     0.1239,
			"intel-nehalem": 0.0000,
			"intel-skx":     0.0140,
			"intel-snb":     0.0767,
			"intel-spr":     0.1460,
			"intel-xeon6":   0.1744,
		},
		FullFrac: map[string]float64{
			"amd-client":    0.6792,
			"amd-genoa":     0.6865,
			"amd-milan":     0.5937,
			"amd-naples":    0.5469,
			"amd-opteron":   0.9289,
			"amd-rome":      0.6677,
			"amd-turin":     0.6870,
			"arm":           0.4678,
			"default":       0.7618,
			"intel-core2":   0.7871,
			"intel-e5":      0.6627,
			"intel-entry":   0.5639,
			"intel-icx":     0.8791,
			"intel-nehalem": 0.5916,
			"intel-skx":     0.7885,
			"intel-snb":     0.9079,
			"intel-spr":     0.8920,
			"intel-xeon6":   0.9515,
		},
		MemIdleW: 0.0529,
		MemFullW: 0.2280,
		Board: map[string]Board{
			"entry":       {Base: 12.55, PerSocket: 0.04},
			"entry-2006":  {Base: 29.88, PerSocket: 0.26},
			"server":      {Base: 18.22, PerSocket: 9.87},
			"server-2006": {Base: 0.00, PerSocket: 33.49},
		},
		Shape: map[string]Shape{
			"amd-server":   {Wake: 0.1925, Exp: 1.2713},
			"default":      {Wake: 0.1838, Exp: 1.6175},
			"entry":        {Wake: 0.0606, Exp: 2.7662},
			"intel-server": {Wake: 0.1763, Exp: 1.6750},
		},
		TDP: TDPFit{
			Cores: 0.5497, GHz: 1.1318, LowPower: -0.3471, N: 856,
			Base: map[string]float64{
				"amd-client":    1.7284,
				"amd-genoa":     2.4180,
				"amd-milan":     2.4232,
				"amd-naples":    2.6582,
				"amd-opteron":   2.3150,
				"amd-rome":      2.3290,
				"amd-turin":     2.3294,
				"default":       1.5796,
				"intel-core2":   2.8669,
				"intel-e5":      2.4233,
				"intel-entry":   2.1520,
				"intel-icx":     2.2680,
				"intel-nehalem": 2.7538,
				"intel-skx":     2.3866,
				"intel-snb":     2.5464,
				"intel-spr":     2.7011,
				"intel-xeon6":   2.3618,
			},
			LogGHz: map[string]float64{
				"amd-client":    1.4113,
				"amd-genoa":     1.0855,
				"amd-milan":     0.9997,
				"amd-naples":    0.8108,
				"amd-opteron":   0.9710,
				"amd-rome":      1.0105,
				"amd-turin":     1.1442,
				"default":       0.9285,
				"intel-core2":   0.9661,
				"intel-e5":      0.8295,
				"intel-entry":   1.1737,
				"intel-icx":     0.8494,
				"intel-nehalem": 0.8292,
				"intel-skx":     0.8760,
				"intel-snb":     0.9144,
				"intel-spr":     0.8334,
				"intel-xeon6":   0.7970,
			},
		},
	}
}
