package codec

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// ituUlaw decodes a µ-law code as ITU-T G.711 Table 2 describes it: the
// code is transmitted with all bits inverted; after inverting them back,
// bit 7 set means negative, bits 6..4 are the segment S and bits 3..0 the
// step Q. The decoder output is the middle of the quantisation interval,
// ((2Q+33) << S) - 33 in 14-bit units, scaled by 4 to 16 bits.
func ituUlaw(code byte) int16 {
	c := ^code
	s := int32(c>>4) & 7
	q := int32(c) & 0x0F
	mag := (((2*q + 33) << s) - 33) * 4
	if c&0x80 != 0 {
		return int16(-mag)
	}
	return int16(mag)
}

// ituAlaw decodes an A-law code as ITU-T G.711 Table 1 describes it: the
// even bits are inverted for transmission (XOR 0x55); bit 7 set means
// positive, bits 6..4 are the segment S and bits 3..0 the step Q. The
// output is the middle of the interval in 13-bit units, 2Q+1 for segment 0
// and (2Q+33) << (S-1) above, scaled by 8 to 16 bits.
func ituAlaw(code byte) int16 {
	c := code ^ 0x55
	s := int32(c>>4) & 7
	q := int32(c) & 0x0F
	var mag int32
	if s == 0 {
		mag = 2*q + 1
	} else {
		mag = (2*q + 33) << (s - 1)
	}
	mag *= 8
	if c&0x80 != 0 {
		return int16(mag)
	}
	return int16(-mag)
}

// loadReference reads a testdata table of "code value" lines.
func loadReference(t *testing.T, name string) [256]int16 {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var tab [256]int16
	seen := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		code, val, ok := strings.Cut(line, " ")
		if !ok {
			t.Fatalf("%s: bad line %q", name, line)
		}
		c, err1 := strconv.ParseUint(code, 16, 8)
		v, err2 := strconv.ParseInt(val, 10, 16)
		if err1 != nil || err2 != nil || int(c) != seen {
			t.Fatalf("%s: bad line %q (want code %02x)", name, line, seen)
		}
		tab[c] = int16(v)
		seen++
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if seen != 256 {
		t.Fatalf("%s: %d codes, want 256", name, seen)
	}
	return tab
}

func TestG711Reference(t *testing.T) {
	for _, tc := range []struct {
		name   string
		file   string
		decode func([]int16, []byte) int
		codec  Codec
		itu    func(byte) int16
	}{
		{"ulaw", "g711_ulaw.txt", DecodeUlaw, PCMU, ituUlaw},
		{"alaw", "g711_alaw.txt", DecodeAlaw, PCMA, ituAlaw},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ref := loadReference(t, tc.file)
			all := make([]byte, 256)
			for i := range all {
				all[i] = byte(i)
			}
			got := make([]int16, 256)
			if n := tc.decode(got, all); n != 256 {
				t.Fatalf("decoded %d samples, want 256", n)
			}
			viaCodec := make([]int16, 256)
			if n := tc.codec.Decode(viaCodec, all); n != 256 {
				t.Fatalf("Codec.Decode decoded %d samples, want 256", n)
			}
			for i := range 256 {
				if got[i] != ref[i] {
					t.Errorf("code %02x: got %d, reference %d", i, got[i], ref[i])
				}
				if viaCodec[i] != ref[i] {
					t.Errorf("code %02x: Codec.Decode got %d, reference %d", i, viaCodec[i], ref[i])
				}
				if w := tc.itu(byte(i)); w != ref[i] {
					t.Errorf("code %02x: ITU algorithm %d, reference file %d", i, w, ref[i])
				}
				var one [1]int16
				tc.decode(one[:], []byte{byte(i)})
				if one[0] != ref[i] {
					t.Errorf("code %02x: single-sample decode %d, reference %d", i, one[0], ref[i])
				}
			}
		})
	}
}

func TestDecodeLengths(t *testing.T) {
	for _, tc := range []struct {
		name       string
		dst, src   int
		want       int
		untouched0 bool
	}{
		{"empty", 0, 0, 0, false},
		{"dst shorter", 3, 10, 3, false},
		{"src shorter", 10, 3, 3, true},
		{"equal", 7, 7, 7, false},
		{"nil dst", 0, 5, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, dec := range []func([]int16, []byte) int{DecodeUlaw, DecodeAlaw} {
				dst := make([]int16, tc.dst)
				for i := range dst {
					dst[i] = 12345
				}
				src := make([]byte, tc.src)
				if n := dec(dst, src); n != tc.want {
					t.Fatalf("n = %d, want %d", n, tc.want)
				}
				for i := tc.want; i < len(dst); i++ {
					if dst[i] != 12345 {
						t.Fatalf("dst[%d] overwritten", i)
					}
				}
			}
		})
	}
	if n := Unknown.Decode(make([]int16, 4), make([]byte, 4)); n != 0 {
		t.Errorf("Unknown.Decode = %d, want 0", n)
	}
}
