package legs

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParse: any input is refused with ErrBadID or gives fields within
// their bounds that read back to the same leg.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"f9e5956e47d460010630009033302ab1:201:+46701234567:1795167000000",
		"abc@pbx:1234:201:0701234567:2026-11-20T10:30:00.250+01:00",
		"d:201::2026-11-20 09:30:00", "d:201:0701:", ":::", "d:a:b:99999999999999999",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := Parse(s)
		if err != nil {
			return
		}
		if id.Dialog == "" || strings.TrimSpace(id.Agent) == "" || len(id.Dialog) > MaxDialogLen || len(id.Agent) > MaxPartyLen || len(id.ANI) > MaxPartyLen {
			t.Fatalf("Parse(%q) = %+v", s, id)
		}
		if strings.Contains(id.Agent, ":") || strings.Contains(id.ANI, ":") || !utf8.ValidString(id.Dialog) {
			t.Fatalf("Parse(%q) = %+v: a colon in agent or ani", s, id)
		}
		again, err := Parse(id.String())
		if err != nil || again.Dialog != id.Dialog || again.Agent != id.Agent || again.ANI != id.ANI || again.Start.UnixMilli() != id.Start.UnixMilli() {
			t.Fatalf("Parse(%q).String() = %q reads back as %+v, %v", s, id.String(), again, err)
		}
		_ = Normalize(id.ANI, "46")
	})
}
