package codec

import "testing"

func TestCodecNames(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Codec
	}{
		{"PCMU", PCMU}, {"pcmu", PCMU}, {" PcMu ", PCMU},
		{"PCMA", PCMA}, {"pcma", PCMA}, {"G722", G722}, {"g722", G722},
		{"G729", G729}, {"g729", G729}, {"G729A", G729},
		{"", Unknown}, {"G7221", Unknown}, {"G.722", Unknown}, {"telephone-event", Unknown}, {"PCM", Unknown}, {"PCMUX", Unknown},
	} {
		if got := ParseCodec(tc.in); got != tc.want {
			t.Errorf("ParseCodec(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
	for _, tc := range []struct {
		c    Codec
		s    string
		ok   bool
		rate int
	}{
		{Unknown, "unknown", false, 0},
		{PCMU, "PCMU", true, 8000},
		{PCMA, "PCMA", true, 8000},
		{G722, "G722", true, 16000},
		{G729, "G729", true, 8000},
		{Codec(200), "Codec(200)", false, 0},
	} {
		if got := tc.c.String(); got != tc.s {
			t.Errorf("String() = %q, want %q", got, tc.s)
		}
		if got := tc.c.Supported(); got != tc.ok {
			t.Errorf("%v.Supported() = %v", tc.c, got)
		}
		if got := tc.c.SampleRate(); got != tc.rate {
			t.Errorf("%v.SampleRate() = %d", tc.c, got)
		}
		if tc.ok && ParseCodec(tc.s) != tc.c {
			t.Errorf("ParseCodec(%v.String()) does not round trip", tc.c)
		}
	}
	for pt := range 256 {
		want := Unknown
		switch pt {
		case 0:
			want = PCMU
		case 8:
			want = PCMA
		case 9:
			want = G722
		case 18:
			want = G729
		}
		if got := CodecForPT(uint8(pt)); got != want {
			t.Errorf("CodecForPT(%d) = %v, want %v", pt, got, want)
		}
	}
}
