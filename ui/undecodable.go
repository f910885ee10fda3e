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
	detail    string // the encryption, or the codecs
}

func (u *undecodable) Line() string { return u.What + " — " + u.Cause }

// words is u in the request's language.
func (u *undecodable) words(rc *reqCtx) *undecodable {
	w := *u
	if u.Encrypted {
		w.What, w.Cause = rc.T("msg.undecodable.encrypted", u.detail), rc.T("msg.undecodable.encryptedCause")
	} else {
		detail := strings.ReplaceAll(u.detail, unknownCodec, rc.T("msg.undecodable.unknownCodec"))
		w.What, w.Cause = rc.T("msg.undecodable.codec", detail), rc.T("msg.undecodable.codecCause")
	}
	return &w
}

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
		return &undecodable{What: "Encrypted media (" + enc + ")", Cause: "the audio cannot be played", Encrypted: true, detail: enc}
	default:
		return &undecodable{What: "Audio in " + strings.Join(codecs, ", "), Cause: "not decoded by this appliance", detail: strings.Join(codecs, ", ")}
	}
}

// unknownCodec names a codec the capture does not name.
const unknownCodec = "an unknown codec"

var gCodec = regexp.MustCompile(`^(?i)g(\d{3})(.*)$`)

// codecName spells an RTP encoding name as people know it: G729 is G.729.
func codecName(c string) string {
	if c == "" || strings.EqualFold(c, "unknown") {
		return unknownCodec
	}
	if m := gCodec.FindStringSubmatch(c); m != nil {
		return "G." + m[1] + m[2]
	}
	return c
}
