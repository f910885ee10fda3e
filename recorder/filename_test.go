package recorder

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseFileName(t *testing.T) {
	const guid, mac = "f9e5956e47d460010630009033302ab1", "009033302ab1"
	name := func(guid, mac, serial, user string) FileName {
		return FileName{GUID: guid, MAC: mac, Serial: serial, User: user}
	}
	tests := []struct {
		name string
		in   string
		want FileName
		bad  bool
	}{
		{"field example", guid + "-" + mac + "-11--username.pcap", name(guid, mac, "11", "username"), false},
		{"single dash user", guid + "-" + mac + "-11-username.pcap", name(guid, mac, "11", "username"), false},
		{"no user", guid + "-" + mac + "-11.pcap", name(guid, mac, "11", ""), false},
		{"empty user", guid + "-" + mac + "-11--.pcap", name(guid, mac, "11", ""), false},
		{"user with dashes", guid + "-" + mac + "-3--jean-luc.pcap", name(guid, mac, "3", "jean-luc"), false},
		{"user with spaces and unicode", guid + "-" + mac + "-3--Jürgen Müller.pcap", name(guid, mac, "3", "Jürgen Müller"), false},
		{"empty serial", guid + "-" + mac + "--user.pcap", name(guid, mac, "", "user"), false},
		{"uppercase hex", strings.ToUpper(guid) + "-" + strings.ToUpper(mac) + "-7.pcap", name(guid, mac, "7", ""), false},
		{"pcapng", guid + "-" + mac + "-1--u.pcapng", name(guid, mac, "1", "u"), false},
		{"gzip", guid + "-" + mac + "-1--u.pcap.gz", name(guid, mac, "1", "u"), false},
		{"gzip pcapng upper", guid + "-" + mac + "-1--u.PCAPNG.GZ", name(guid, mac, "1", "u"), false},
		{"no extension", guid + "-" + mac + "-1--u", name(guid, mac, "1", "u"), false},
		{"cap", guid + "-" + mac + "-1.cap", name(guid, mac, "1", ""), false},
		{"empty", "", FileName{}, true},
		{"only extension", ".pcap", FileName{}, true},
		{"slash", guid + "-" + mac + "-1--a/b.pcap", FileName{}, true},
		{"backslash", guid + "-" + mac + "-1--a\\b.pcap", FileName{}, true},
		{"newline", guid + "-" + mac + "-1--a\nb.pcap", FileName{}, true},
		{"nul", guid + "-" + mac + "-1--a\x00b.pcap", FileName{}, true},
		{"del", guid + "-" + mac + "-1--a\x7fb.pcap", FileName{}, true},
		{"c1 control", guid + "-" + mac + "-1--a\u0085b.pcap", FileName{}, true},
		{"not utf-8", guid + "-" + mac + "-1--a\xffb.pcap", FileName{}, true},
		{"too long", guid + "-" + mac + "-1--" + strings.Repeat("u", 2000) + ".pcap", FileName{}, true},
		{"short guid", guid[1:] + "-" + mac + "-1.pcap", FileName{}, true},
		{"not hex", "x" + guid[1:] + "-" + mac + "-1.pcap", FileName{}, true},
		{"no serial", guid + "-" + mac + ".pcap", FileName{}, true},
		{"random", "call recording.pcap", FileName{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseFileName(nil, tc.in)
			if tc.bad {
				if err == nil || !errors.Is(err, ErrBadFileName) {
					t.Fatalf("got %+v, %v; want ErrBadFileName", got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestParseFileNameCustomPattern(t *testing.T) {
	re := regexp.MustCompile(`^rec_(?P<user>[a-z]+)_(?P<guid>[0-9a-f]{8})$`)
	got, err := ParseFileName(re, "rec_bob_0badc0de.pcap.gz")
	if err != nil || got != (FileName{GUID: "0badc0de", User: "bob"}) {
		t.Fatalf("%+v %v", got, err)
	}
	if _, err := ParseFileName(re, "rec_bob.pcap"); !errors.Is(err, ErrBadFileName) {
		t.Fatalf("mismatch: %v", err)
	}
	// The default pattern compiles and has the documented groups.
	names := regexp.MustCompile(DefaultNamePattern).SubexpNames()
	for _, g := range []string{"guid", "mac", "serial", "user"} {
		found := false
		for _, n := range names {
			found = found || n == g
		}
		if !found {
			t.Errorf("DefaultNamePattern lacks group %s", g)
		}
	}
}

func FuzzParseFileName(f *testing.F) {
	f.Add("f9e5956e47d460010630009033302ab1-009033302ab1-11--username.pcap")
	f.Add("F9E5956E47D460010630009033302AB1-009033302AB1-1.pcapng.gz")
	f.Add("f9e5956e47d460010630009033302ab1-009033302ab1--.gz")
	f.Add("a/b.pcap")
	f.Add("")
	f.Fuzz(func(t *testing.T, name string) {
		fn, err := ParseFileName(nil, name)
		if err != nil {
			if !errors.Is(err, ErrBadFileName) {
				t.Fatalf("error %v does not wrap ErrBadFileName", err)
			}
			return
		}
		if len(fn.GUID) != 32 || len(fn.MAC) != 12 || strings.ToLower(fn.GUID) != fn.GUID || strings.ToLower(fn.MAC) != fn.MAC {
			t.Fatalf("%q: %+v", name, fn)
		}
		for _, s := range []string{fn.Serial, fn.User} {
			if strings.ContainsAny(s, "/\\\x00\n\r") || !utf8.ValidString(s) {
				t.Fatalf("%q: field %q", name, s)
			}
		}
		if strings.Contains(fn.Serial, "-") || strings.HasPrefix(fn.User, "-") {
			t.Fatalf("%q: %+v", name, fn)
		}
	})
}
