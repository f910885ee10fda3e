package flex

import (
	"encoding/base64"
	"strings"
	"testing"
)

// FuzzAuthorization: any header parses or is refused, never panics; a
// parsed Basic credential had the user part "token" and a non-empty
// secret without spaces or control characters.
func FuzzAuthorization(f *testing.F) {
	for _, s := range []string{"", "Basic " + base64.StdEncoding.EncodeToString([]byte("token:eyJ.x.y")), "Bearer cvt_ABC",
		"Basic " + base64.StdEncoding.EncodeToString([]byte("token:a:b")), "Basic ===", "basic dG9rZW46", "Negotiate x", "Bearer  "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		kind, secret, err := parseAuthorization(h)
		if err != nil {
			if kind != 0 || secret != "" {
				t.Fatalf("refused %q but returned %d %q", h, kind, secret)
			}
			return
		}
		if secret == "" || strings.ContainsAny(secret, " \t\r\n\x00") || len(secret) > maxHeader {
			t.Fatalf("%q gave secret %q", h, secret)
		}
		if (kind == credAPI) != strings.HasPrefix(secret, apiPrefix) {
			t.Fatalf("%q: kind %d for %q", h, kind, secret)
		}
		if scheme, rest, _ := strings.Cut(strings.TrimSpace(h), " "); strings.EqualFold(scheme, "Basic") {
			b, _ := base64.StdEncoding.DecodeString(strings.TrimSpace(rest))
			if string(b) != "token:"+secret {
				t.Fatalf("%q decoded %q, secret %q", h, b, secret)
			}
		}
	})
}

// FuzzRecordingParam: any ?recording= parses or is refused, never panics;
// what parses is 1 to 128 characters without control characters, and an
// id parses only when it is an id.
func FuzzRecordingParam(f *testing.F) {
	for _, s := range []string{"", "guid-a", "0123456789abcdef0123456789abcdef", strings.Repeat("z", 129), "a\x00b", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		id, isID, guid, err := parseRecording(v)
		if err != nil {
			return
		}
		if guid != v || len(v) == 0 || len(v) > maxParam {
			t.Fatalf("%q: guid %q", v, guid)
		}
		if isID && id.String() == "" {
			t.Fatalf("%q: empty id", v)
		}
	})
}
