package codec

import (
	"encoding/hex"
	"testing"
)

func TestWAVHeader(t *testing.T) {
	for _, tc := range []struct {
		name     string
		rate, ch int
		dataLen  uint32
		want     string
	}{
		{"stereo 8k", 8000, 2, 32000,
			"52494646" + "247d0000" + "57415645" + "666d7420" + "10000000" + "0100" + "0200" +
				"401f0000" + "007d0000" + "0400" + "1000" + "64617461" + "007d0000"},
		{"mono 8k empty", 8000, 1, 0,
			"52494646" + "24000000" + "57415645" + "666d7420" + "10000000" + "0100" + "0100" +
				"401f0000" + "803e0000" + "0200" + "1000" + "64617461" + "00000000"},
		{"mono 16k odd", 16000, 1, 3,
			"52494646" + "27000000" + "57415645" + "666d7420" + "10000000" + "0100" + "0100" +
				"803e0000" + "007d0000" + "0200" + "1000" + "64617461" + "03000000"},
		{"riff size saturates", 8000, 2, 0xFFFFFFF0,
			"52494646" + "ffffffff" + "57415645" + "666d7420" + "10000000" + "0100" + "0200" +
				"401f0000" + "007d0000" + "0400" + "1000" + "64617461" + "f0ffffff"},
		{"largest exact", 8000, 2, 0xFFFFFFFF - 36,
			"52494646" + "ffffffff" + "57415645" + "666d7420" + "10000000" + "0100" + "0200" +
				"401f0000" + "007d0000" + "0400" + "1000" + "64617461" + "dbffffff"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := WAVHeader(tc.rate, tc.ch, tc.dataLen)
			if got := hex.EncodeToString(h[:]); got != tc.want {
				t.Errorf("header\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}
