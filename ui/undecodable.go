package ui

import (
	"regexp"
	"slices"
	"strings"

	"github.com/callvault/callvault/recinfo"
)

// undecodable describes audio the appliance cannot play: a call (0-based;
// < 0 for all) whose every audio stream is encrypted or in a codec it does
// not decode. What and Cause are for people; "" when the audio plays (or
// there is none).
type undecodable struct {
	What      string // "Encrypted media (SRTP)" / "Audio in G.729"
	Cause     string // "the audio cannot be played" / "not decoded by this appliance"
	Encrypted bool
}

func (u *undecodable) Line() string { return u.What + " — " + u.Cause }

func findUndecodable(in *recinfo.Info, call int) *undecodable {
	var codecs []string
	enc := ""
	n := 0
	for _, s := range in.Result.Streams {
		if call >= 0 && s.Call != call || strings.EqualFold(s.Codec, "telephone-event") {
			continue
		}
		if s.Supported {
			return nil
		}
		n++
		if s.Encrypted {
			if enc == "" {
				enc = strings.ToUpper(s.Encryption)
				if enc == "" {
					enc = "SRTP"
				}
			}
			continue
		}
		if c := codecName(s.Codec); !slices.Contains(codecs, c) {
			codecs = append(codecs, c)
		}
	}
	switch {
	case n == 0:
		return nil
	case enc != "":
		return &undecodable{What: "Encrypted media (" + enc + ")", Cause: "the audio cannot be played", Encrypted: true}
	default:
		return &undecodable{What: "Audio in " + strings.Join(codecs, ", "), Cause: "not decoded by this appliance"}
	}
}

var gCodec = regexp.MustCompile(`^(?i)g(\d{3})(.*)$`)

// codecName spells an RTP encoding name as people know it: G729 is G.729.
func codecName(c string) string {
	if c == "" || strings.EqualFold(c, "unknown") {
		return "an unknown codec"
	}
	if m := gCodec.FindStringSubmatch(c); m != nil {
		return "G." + m[1] + m[2]
	}
	return c
}
