package model

import "fmt"

// memChannels is the memory of one socket of an architecture: its DDR
// channels (64 data bits each) and their highest supported transfer rate
// in MT/s, as the vendor's product specifications give them (Intel ARK
// "Max # of Memory Channels" and "Memory Types"; AMD's EPYC and Opteron
// product pages and platform briefs; Arm server vendors' briefs). A
// channel's peak is rate × 8 bytes (JEDEC DDR2/3/4/5: 64-bit channel; a
// DDR5 DIMM's two 32-bit subchannels make the same 8 bytes per transfer).
// Where a family spans several rates the most common server rate is
// taken, so the peak is an assumption of that family's usual part, not
// of this machine's DIMMs (which may run slower, or fill fewer channels).
type memChannels struct {
	Channels int
	MTs      int
	Memory   string // the generation and rate, for Method
}

// memBW maps Arch.ID to its memory channels. Architectures absent fall
// back to defaultMemBW.
var memBW = map[string]memChannels{
	"core2":          {2, 667, "FB-DIMM DDR2-667 (Intel 5000P: 4 channels per two sockets)"},
	"core2-up":       {2, 800, "DDR2-800"},
	"nehalem":        {3, 1333, "DDR3-1333"},
	"nehalem-ex":     {4, 1066, "DDR3-1066 behind 4 SMI links"},
	"nehalem-up":     {2, 1333, "DDR3-1333"},
	"sandybridge-ep": {4, 1600, "DDR3-1600"},
	"sandybridge":    {2, 1600, "DDR3-1600"},
	"haswell-client": {2, 1600, "DDR3-1600"},
	"haswell-ep":     {4, 2133, "DDR4-2133"},
	"broadwell-ep":   {4, 2400, "DDR4-2400"},
	"skylake-sp":     {6, 2666, "DDR4-2666"},
	"cascadelake-sp": {6, 2933, "DDR4-2933"},
	"cooperlake-sp":  {6, 3200, "DDR4-3200"},
	"icelake-sp":     {8, 3200, "DDR4-3200"},
	"icelake-d":      {4, 2933, "DDR4-2933"},
	"sapphirerapids": {8, 4800, "DDR5-4800"},
	"emeraldrapids":  {8, 5600, "DDR5-5600"},
	"graniterapids":  {12, 6400, "DDR5-6400"},
	"sierraforest":   {12, 6400, "DDR5-6400"},
	"kabylake":       {2, 2400, "DDR4-2400"},
	"coffeelake":     {2, 2666, "DDR4-2666"},
	"cometlake":      {2, 2933, "DDR4-2933"},
	"rocketlake":     {2, 3200, "DDR4-3200"},
	"raptorlake":     {2, 4800, "DDR5-4800"},
	"intel-client":   {2, 2666, "DDR4-2666"},
	"opteron-k10":    {2, 800, "DDR2-800 (Socket F)"},
	"opteron-bd":     {4, 1600, "DDR3-1600 (G34)"},
	"naples":         {8, 2666, "DDR4-2666"},
	"rome":           {8, 3200, "DDR4-3200"},
	"milan":          {8, 3200, "DDR4-3200"},
	"genoa":          {12, 4800, "DDR5-4800"},
	"bergamo":        {12, 4800, "DDR5-4800"},
	"siena":          {6, 4800, "DDR5-4800"},
	"turin":          {12, 6000, "DDR5-6000"},
	"zen-client":     {2, 3200, "DDR4-3200"},
	"neoverse-n1":    {8, 3200, "DDR4-3200 (Ampere Altra, Graviton2)"},
	"neoverse-v1":    {8, 4800, "DDR5-4800 (Graviton3)"},
	"neoverse-v2":    {12, 5600, "DDR5-5600 (Graviton4)"},
}

// defaultMemBW is assumed for an architecture without a row (a generic
// server): six channels of DDR4-2933, Cascade Lake-SP's, the generation
// the generic Intel row stands for.
var defaultMemBW = memChannels{6, 2933, "DDR4-2933, assumed (architecture without a memory row)"}

// PeakMemoryBandwidth returns the assumed peak memory bandwidth of the
// machine in bytes per second, channels × rate × 8 bytes per socket times
// the sockets counted (a VM's fractional share of its host's), and says
// where it comes from. It is the traffic at which the memory term's active
// part is full (MemoryAt's m = 1).
func (md Model) PeakMemoryBandwidth() (float64, string) {
	mc, ok := memBW[md.match.Arch.ID]
	if !ok {
		mc = defaultMemBW
	}
	perSocket := float64(mc.Channels) * float64(mc.MTs) * 1e6 * 8
	return perSocket * md.sockets, fmt.Sprintf("%d channels × %s × 8 B = %.1f GB/s per socket × %g sockets",
		mc.Channels, mc.Memory, perSocket/1e9, round3(md.sockets))
}
