package codec

import (
	"encoding/binary"
	"math"
)

// WAVHeaderSize is the size of the header WAVHeader returns.
const WAVHeaderSize = 44

// WAVHeader returns the 44-byte header of a canonical RIFF/WAVE file holding
// dataLen bytes of little-endian PCM16 audio with the given sampling rate
// and channel count. The RIFF chunk size (36 + dataLen) saturates at the
// largest 32-bit value if dataLen is within 36 bytes of it.
func WAVHeader(rate, channels int, dataLen uint32) [WAVHeaderSize]byte {
	var h [WAVHeaderSize]byte
	riff := uint32(math.MaxUint32)
	if dataLen <= math.MaxUint32-36 {
		riff = 36 + dataLen
	}
	le := binary.LittleEndian
	copy(h[0:4], "RIFF")
	le.PutUint32(h[4:8], riff)
	copy(h[8:12], "WAVE")
	copy(h[12:16], "fmt ")
	le.PutUint32(h[16:20], 16)                      // fmt chunk size
	le.PutUint16(h[20:22], 1)                       // PCM
	le.PutUint16(h[22:24], uint16(channels))        // channels
	le.PutUint32(h[24:28], uint32(rate))            // sample rate
	le.PutUint32(h[28:32], uint32(rate*channels*2)) // byte rate
	le.PutUint16(h[32:34], uint16(channels*2))      // block align
	le.PutUint16(h[34:36], 16)                      // bits per sample
	copy(h[36:40], "data")
	le.PutUint32(h[40:44], dataLen)
	return h
}
