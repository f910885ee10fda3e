package loadgen

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/zaf/g711"

	"github.com/callvault/callvault/internal/pcapwrite"
)

func TestG711(t *testing.T) {
	for _, c := range []struct {
		in     int16
		mu, al byte
	}{{0, 0xff, 0xd5}, {32767, 0x80, 0xaa}, {-32768, 0x00, 0x2a}, {-1, 0x7f, 0x55}} {
		if got := g711.EncodeUlawFrame(c.in); got != c.mu {
			t.Errorf("µ-law(%d) = %#x, want %#x", c.in, got, c.mu)
		}
		if got := g711.EncodeAlawFrame(c.in); got != c.al {
			t.Errorf("A-law(%d) = %#x, want %#x", c.in, got, c.al)
		}
	}
}

// sunULaw and sunALaw are the encoders the load generator had before it
// used zaf/g711 (after the Sun reference code), kept as the reference the
// tests compare with.
func sunULaw(pcm int16) byte {
	v := int32(pcm) >> 2
	mask := byte(0xff)
	if v < 0 {
		v = -v
		mask = 0x7f
	}
	v = min(v, 8159) + 0x21
	seg := 0
	for end := int32(0x3f); seg < 8 && v > end; seg++ {
		end = end<<1 | 1
	}
	if seg >= 8 {
		return 0x7f ^ mask
	}
	return byte(seg<<4|int((v>>(seg+1))&0xf)) ^ mask
}

func sunALaw(pcm int16) byte {
	v := int32(pcm) >> 3
	mask := byte(0xd5)
	if v < 0 {
		mask = 0x55
		v = -v - 1
	}
	seg := 0
	for end := int32(0x1f); seg < 8 && v > end; seg++ {
		end = end<<1 | 1
	}
	if seg >= 8 {
		return 0x7f ^ mask
	}
	a := seg << 4
	if seg < 2 {
		a |= int(v>>1) & 0xf
	} else {
		a |= int(v>>seg) & 0xf
	}
	return byte(a) ^ mask
}

func abs(x int) int { return max(x, -x) }

// zaf/g711 encodes every sample as the former encoders did, except for
// µ-law samples below zero that the former one, shifting before negating,
// put one step further from zero than their nearest code; zaf/g711 follows
// ITU-T G.191 there (ones' complement) and is never further off.
func TestG711MatchesFormerEncoder(t *testing.T) {
	differ := 0
	for i := -32768; i <= 32767; i++ {
		x := int16(i)
		if a, b := g711.EncodeAlawFrame(x), sunALaw(x); a != b {
			t.Fatalf("A-law(%d): zaf %#x, former %#x", x, a, b)
		}
		z, s := g711.EncodeUlawFrame(x), sunULaw(x)
		if z == s {
			continue
		}
		differ++
		dz, ds := abs(int(g711.DecodeUlawFrame(z))-i), abs(int(g711.DecodeUlawFrame(s))-i)
		if x >= 0 || dz > ds || abs(int(z&0x7f)-int(s&0x7f)) != 1 {
			t.Errorf("µ-law(%d): zaf %#x (off by %d), former %#x (off by %d)", x, z, dz, s, ds)
		}
	}
	if differ != 508 {
		t.Errorf("µ-law: %d samples encode differently, want 508", differ)
	}
}

// callHash returns the SHA-256 of the file header and the records of
// 300 ticks of one call whose random choices come from a fixed seed.
func callHash(pat [2][]byte, pt byte) string {
	l := &run{pattern: pat}
	c := l.newCall(7, 0x42, rand.New(rand.NewPCG(1, 2)))
	h := sha256.New()
	h.Write(pcapwrite.Ethernet.FileHeader())
	t0 := time.Date(2026, 11, 20, 9, 30, 0, 123456789, time.UTC)
	for n := range 300 {
		c.fill(n, t0.Add(time.Duration(n)*20*time.Millisecond), pt, &l.pattern)
		h.Write(c.pair)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// The frames are byte for byte those the former single-file load generator
// wrote (the hashes are of its output for the same seed): for PCMA as is,
// for PCMU with its former encoder's payload.
func TestFramesUnchanged(t *testing.T) {
	if got, want := callHash(Pattern("pcma"), 8), "ee8071d8b601a33747d1d9f888bc55d8c00b8a425e1f8c7407f5f6ab71722bcb"; got != want {
		t.Errorf("PCMA call: sha256 %s, want %s", got, want)
	}
	if got, want := callHash(pattern(sunULaw), 0), "39d7900e03434855a9791f6f287d21eba811ddd55fac8c6d3c53949ab9b06113"; got != want {
		t.Errorf("PCMU call with the former encoder: sha256 %s, want %s", got, want)
	}
	// With zaf/g711 the PCMU payload differs only where TestG711MatchesFormerEncoder allows.
	now, before := Pattern("pcmu"), pattern(sunULaw)
	for d := range 2 {
		if len(now[d]) != len(before[d]) {
			t.Fatalf("direction %d: %d bytes, want %d", d, len(now[d]), len(before[d]))
		}
		for i := range now[d] {
			if a, b := now[d][i], before[d][i]; a != b && (a&0x80 != 0 || abs(int(a)-int(b)) != 1) {
				t.Errorf("direction %d sample %d: %#x, former %#x", d, i, a, b)
			}
		}
	}
	if bytes.Equal(Pattern("pcmu")[0], Pattern("pcma")[0]) {
		t.Error("PCMU and PCMA patterns are equal")
	}
}
