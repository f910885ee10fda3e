package g729core

// Params are the transmitted parameters of one speech frame (Table 8 of
// the recommendation), in transmission order: the LSF quantiser indices
// L0..L3, the first subframe's pitch delay P1 and its parity bit P0, per
// subframe the fixed codebook C and signs S and the gain indices GA and
// GB, and the second subframe's relative delay P2 (sent after the first
// subframe's C, S, GA, GB).
type Params struct {
	L0, L1, L2, L3 int
	P1, P0         int
	C, S           [2]int
	GA, GB         [2]int
	P2             int
}

// Unpack reads the 80 bits of a 10-byte frame, most significant bit of
// the first byte first.
func (p *Params) Unpack(b []byte) {
	b = b[:10]
	pos := 0
	take := func(n int) int {
		v := 0
		for range n {
			v = v<<1 | int(b[pos>>3]>>(7-pos&7)&1)
			pos++
		}
		return v
	}
	p.L0, p.L1, p.L2, p.L3 = take(1), take(7), take(5), take(5)
	p.P1, p.P0 = take(8), take(1)
	p.C[0], p.S[0], p.GA[0], p.GB[0] = take(13), take(4), take(3), take(4)
	p.P2 = take(5)
	p.C[1], p.S[1], p.GA[1], p.GB[1] = take(13), take(4), take(3), take(4)
}

// Pack is the inverse of Unpack.
func (p Params) Pack() []byte {
	b := make([]byte, 10)
	pos := 0
	put := func(v, n int) {
		for i := n - 1; i >= 0; i-- {
			if v>>i&1 != 0 {
				b[pos>>3] |= 0x80 >> (pos & 7)
			}
			pos++
		}
	}
	for _, f := range [][2]int{
		{p.L0, 1}, {p.L1, 7}, {p.L2, 5}, {p.L3, 5}, {p.P1, 8}, {p.P0, 1},
		{p.C[0], 13}, {p.S[0], 4}, {p.GA[0], 3}, {p.GB[0], 4}, {p.P2, 5},
		{p.C[1], 13}, {p.S[1], 4}, {p.GA[1], 3}, {p.GB[1], 4},
	} {
		put(f[0], f[1])
	}
	return b
}

// ParityOK checks P0 against the six most significant bits of P1.
func (p *Params) ParityOK() bool {
	sum := 1 + p.P0
	for i := 2; i < 8; i++ {
		sum += p.P1 >> i & 1
	}
	return sum&1 == 0
}

// SetParity sets P0 so that the parity check on P1 passes.
func (p *Params) SetParity() {
	p.P0 = 0
	if !p.ParityOK() {
		p.P0 = 1
	}
}
