package modemsim

import (
	"math/rand/v2"
	"strings"
)

// garbageLines are the junk a noisy line or a confused modem emits.
var garbageLines = []string{"\x00", "\xff\xfe", "~~", "\x00\xff~~"}

// noiser decides, at each output opportunity, whether to slip in a vendor
// URC or a line of garbage. Only the server goroutine uses it, so its
// choices depend only on the seed and the sequence of opportunities.
type noiser struct {
	cfg noiseConfig
	le  string
	rng *rand.Rand
}

func newNoiser(cfg noiseConfig, le string, stream uint64) *noiser {
	seed := uint64(cfg.seed)
	return &noiser{cfg: cfg, le: le, rng: rand.New(rand.NewPCG(seed, seed^stream))}
}

// inject appends an injection to b, or nothing. urcsOn is false once the
// host turned vendor reports off (AT^CURC=0): the generator is consulted
// all the same, so that the choices that follow do not shift.
func (n *noiser) inject(b *strings.Builder, urcsOn bool) {
	if n.cfg.rate <= 0 || n.rng.Float64() >= n.cfg.rate {
		return
	}
	if n.cfg.garbage && (len(n.cfg.urcs) == 0 || n.rng.IntN(4) == 0) {
		b.WriteString(garbageLines[n.rng.IntN(len(garbageLines))])
		b.WriteString(n.le)
		return
	}
	u := n.urc()
	if urcsOn || !n.cfg.curc {
		b.WriteString(frameLine(n.le, u))
	}
}

// urc picks one of the URC lines.
func (n *noiser) urc() string { return n.cfg.urcs[n.rng.IntN(len(n.cfg.urcs))] }
