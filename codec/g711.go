package codec

import "github.com/zaf/g711"

// ulawTable and alawTable map every G.711 code to its PCM16 value. They are
// computed once at package initialisation and only read afterwards.
var (
	ulawTable = decodeTable(g711.DecodeUlawFrame)
	alawTable = decodeTable(g711.DecodeAlawFrame)
)

func decodeTable(decode func(uint8) int16) *[256]int16 {
	var t [256]int16
	for i := range t {
		t[i] = decode(uint8(i))
	}
	return &t
}

// DecodeUlaw decodes G.711 µ-law samples from src into dst and returns the
// number of samples decoded, min(len(dst), len(src)).
func DecodeUlaw(dst []int16, src []byte) int {
	return decodeWith(ulawTable, dst, src)
}

// DecodeAlaw decodes G.711 A-law samples from src into dst and returns the
// number of samples decoded, min(len(dst), len(src)).
func DecodeAlaw(dst []int16, src []byte) int {
	return decodeWith(alawTable, dst, src)
}

func decodeWith(t *[256]int16, dst []int16, src []byte) int {
	n := min(len(dst), len(src))
	dst, src = dst[:n], src[:n]
	for i, b := range src {
		dst[i] = t[b]
	}
	return n
}
