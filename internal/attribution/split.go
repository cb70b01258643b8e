package attribution

import (
	"cmp"
	"math/bits"
	"slices"
)

// split divides total among weights in proportion, in whole units, so that
// the parts add up to total exactly (largest-remainder method). With all
// weights zero it returns all zeros. out must have len(weights).
func split(total uint64, weights []uint64, out []uint64, rem []remainder) []remainder {
	var sum uint64
	for _, w := range weights {
		sum += w
	}
	for i := range out {
		out[i] = 0
	}
	if sum == 0 || total == 0 {
		return rem
	}
	rem = rem[:0]
	var given uint64
	for i, w := range weights {
		if w == 0 {
			continue
		}
		hi, lo := bits.Mul64(total, w)
		q, r := bits.Div64(hi, lo, sum) // total*w < total*sum, so hi < sum
		out[i] = q
		given += q
		if r != 0 {
			rem = append(rem, remainder{i: i, r: r})
		}
	}
	left := total - given // < len(rem)
	if left == 0 {
		return rem
	}
	slices.SortFunc(rem, func(a, b remainder) int {
		if c := cmp.Compare(b.r, a.r); c != 0 {
			return c
		}
		return cmp.Compare(a.i, b.i)
	})
	for k := uint64(0); k < left; k++ {
		out[rem[k].i]++
	}
	return rem
}

type remainder struct {
	i int
	r uint64
}
