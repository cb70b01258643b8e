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
	// MemIdleW, MemFullW: memory watts per GB at idle and at full load,
	// for a platform class without its own entry in MemByClass.
	MemIdleW, MemFullW float64
	// MemByClass: memory watts per GB per memory group (MemGroup) where
	// it differs from MemIdleW/MemFullW: the 2006–2011 platforms carry
	// DDR2 and early DDR3 DIMMs of 1–4 GB; the Core 2 / NetBurst servers
	// fully-buffered DIMMs (an advanced memory buffer on every DIMM) and
	// the Nehalem/Westmere-EX ones Intel 7500 scalable memory buffers
	// (one chip per pair of channels), which draw several watts whatever
	// the load. Their watts per GB are an order of magnitude above today's
	// 32–64 GB DDR4/DDR5 DIMMs.
	MemByClass map[string]Memory
	// Board: the rest of the machine before the power supply, per
	// Arch.Class.
	Board map[string]Board
	// SocketW: the board's watts per socket per Arch.Idle group (the
	// socket's voltage regulators, its memory channels' DIMM slots and
	// their fans), replacing Board.PerSocket where the group has one;
	// "default" for groups without enough results.
	SocketW map[string]float64
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

// Memory is the memory's watts per GB at idle and at full load.
type Memory struct{ IdleW, FullW float64 }

// Memory groups (MemGroup).
const (
	MemBuffered = "buffered"
	MemOld      = "ddr2-ddr3"
	MemModern   = "modern"
)

// MemGroup returns the memory group of an architecture: buffered for the
// Core 2 / NetBurst servers (FB-DIMM on the Intel 5000/5100/5400/7300
// chipsets) and Nehalem/Westmere-EX (memory buffers), DDR2/early DDR3 for
// the other 2006–2011 platforms, modern otherwise.
func MemGroup(a Arch) string {
	switch {
	case a.Class == ClassServerOld && a.Idle == "intel-core2", a.ID == "nehalem-ex":
		return MemBuffered
	case a.Class == ClassServerOld || a.Class == ClassEntryOld:
		return MemOld
	}
	return MemModern
}

// MemoryFor returns the memory coefficients of a memory group
// (MemByClass's entry, else MemIdleW and MemFullW).
func (p Params) MemoryFor(group string) Memory {
	if m, ok := p.MemByClass[group]; ok {
		return m
	}
	return Memory{IdleW: p.MemIdleW, FullW: p.MemFullW}
}

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

// boardFor returns the board of a machine: its class's Base and its
// group's SocketW per socket (else "default"'s, else the class's
// PerSocket).
func (p Params) boardFor(a Arch) Board {
	b := p.BoardFor(a.Class)
	if v, ok := p.SocketW[a.Idle]; ok {
		b.PerSocket = v
	} else if v, ok := p.SocketW["default"]; ok {
		b.PerSocket = v
	}
	return b
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
	q.MemByClass = copyMap(p.MemByClass)
	q.SocketW = copyMap(p.SocketW)
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
			"amd-client":     0.1062,
			"amd-genoa":      0.0393,
			"amd-milan":      0.0864,
			"amd-naples":     0.0960,
			"amd-opteron":    0.0368,
			"amd-opteron-bd": 0.0647,
			"amd-rome":       0.0803,
			"amd-turin":      0.0709,
			"arm":            0.0851,
			"default":        0.0477,
			"intel-core2":    0.0266,
			"intel-e5":       0.0850,
			"intel-entry":    0.0220,
			"intel-icx":      0.0951,
			"intel-nehalem":  0.0482,
			"intel-skx":      0.0052,
			"intel-snb":      0.0148,
			"intel-spr":      0.0911,
			"intel-xeon6":    0.0748,
		},
		FullFrac: map[string]float64{
			"amd-client":     0.6372,
			"amd-genoa":      0.6450,
			"amd-milan":      0.6064,
			"amd-naples":     0.5525,
			"amd-opteron":    0.9221,
			"amd-opteron-bd": 0.8342,
			"amd-rome":       0.6581,
			"amd-turin":      0.6869,
			"arm":            0.3546,
			"default":        0.7162,
			"intel-core2":    0.4376,
			"intel-e5":       0.7466,
			"intel-entry":    0.5843,
			"intel-icx":      0.8433,
			"intel-nehalem":  0.6306,
			"intel-skx":      0.7821,
			"intel-snb":      0.8846,
			"intel-spr":      0.8347,
			"intel-xeon6":    0.8576,
		},
		MemIdleW: 0.0233,
		MemFullW: 0.1976,
		MemByClass: map[string]Memory{
			"buffered":  {IdleW: 2.6624, FullW: 3.4364},
			"ddr2-ddr3": {IdleW: 0.2233, FullW: 0.7214},
		},
		Board: map[string]Board{
			"entry":       {Base: 9.67, PerSocket: 0.00},
			"entry-2006":  {Base: 0.89, PerSocket: 0.00},
			"server":      {Base: 15.02, PerSocket: 0.00},
			"server-2006": {Base: 0.00, PerSocket: 0.00},
		},
		SocketW: map[string]float64{
			"amd-client":     0.0000,
			"amd-genoa":      30.1304,
			"amd-milan":      9.0634,
			"amd-naples":     15.3460,
			"amd-opteron":    39.8602,
			"amd-opteron-bd": 19.8586,
			"amd-rome":       15.8848,
			"amd-turin":      18.0851,
			"arm":            34.1625,
			"default":        25.7867,
			"intel-core2":    50.7462,
			"intel-e5":       0.0000,
			"intel-entry":    4.2085,
			"intel-icx":      23.0295,
			"intel-nehalem":  25.2043,
			"intel-skx":      14.7786,
			"intel-snb":      16.3055,
			"intel-spr":      38.3461,
			"intel-xeon6":    57.0774,
		},
		Shape: map[string]Shape{
			"amd-server":   {Wake: 0.1313, Exp: 1.0213},
			"default":      {Wake: 0.1881, Exp: 1.6800},
			"entry":        {Wake: 0.0406, Exp: 2.8200},
			"intel-server": {Wake: 0.1712, Exp: 1.6500},
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
