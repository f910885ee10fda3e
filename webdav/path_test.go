package webdav

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/callvault/callvault/archive"
)

func TestParsePath(t *testing.T) {
	for _, tc := range []struct {
		path string
		ok   bool
		kind nodeKind
		rel  string
	}{
		{"/webdav/", true, kindRoot, ""},
		{"/webdav", true, kindRoot, ""},
		{"/webdav/2026", true, kindYear, "2026/"},
		{"/webdav/2026/", true, kindYear, "2026/"},
		{"/webdav/2026/11/", true, kindMonth, "2026/11/"},
		{"/webdav/2026/11/21/", true, kindDay, "2026/11/21/"},
		{"/webdav/2026/11/21/a~01234567.pcap", true, kindFile, "2026/11/21/a~01234567.pcap"},
		{"/webdav/2024/02/29/", true, kindDay, "2024/02/29/"},
		{"/webdav/users/", true, kindUsers, "users/"},
		{"/webdav/users/alice", true, kindUser, "users/alice/"},
		{"/webdav/users/_unassigned/2026/11/21/x.pcap", true, kindFile, "users/_unassigned/2026/11/21/x.pcap"},
		{"/webdav/users/Ærlig/", true, kindUser, "users/Ærlig/"},
		{"/webdav/2026/11/21/a.pcap/", false, 0, ""},
		{"/webdav/2026/11/21/a/b", false, 0, ""},
		{"/webdav/2025/02/29/", false, 0, ""},
		{"/webdav/2026/13/", false, 0, ""},
		{"/webdav/2026/00/", false, 0, ""},
		{"/webdav/2026/1/", false, 0, ""},
		{"/webdav/0000/", false, 0, ""},
		{"/webdav/+026/", false, 0, ""},
		{"/webdav/x/", false, 0, ""},
		{"/webdav//", false, 0, ""},
		{"/webdav/2026//11/", false, 0, ""},
		{"/webdav/../etc/passwd", false, 0, ""},
		{"/webdav/./2026/", false, 0, ""},
		{"/webdav/users/../2026/", false, 0, ""},
		{"/webdav/users/a\\b/", false, 0, ""},
		{"/webdav/users/a\x00b/", false, 0, ""},
		{"/webdav/users/\xff/", false, 0, ""},
		{"/webdavx/", false, 0, ""},
		{"/other/", false, 0, ""},
		{"", false, 0, ""},
	} {
		n, ok := parsePath("/webdav/", tc.path)
		if ok != tc.ok {
			t.Errorf("%q: ok %v, want %v", tc.path, ok, tc.ok)
			continue
		}
		if ok && (n.kind != tc.kind || n.rel() != tc.rel) {
			t.Errorf("%q: kind %d rel %q, want %d %q", tc.path, n.kind, n.rel(), tc.kind, tc.rel)
		}
	}
}

func TestNodeParentAndSpan(t *testing.T) {
	n, _ := parsePath("/webdav/", "/webdav/users/bob/2026/11/21/x.pcap")
	var chain []string
	for {
		chain = append(chain, n.rel())
		if n.kind == kindRoot {
			break
		}
		n = n.parent()
	}
	want := "users/bob/2026/11/21/x.pcap|users/bob/2026/11/21/|users/bob/2026/11/|users/bob/2026/|users/bob/|users/|"
	if got := strings.Join(chain, "|"); got != want {
		t.Errorf("parents %s", got)
	}
	m, _ := parsePath("/webdav/", "/webdav/2026/12/")
	from, to := m.span()
	if !from.Equal(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)) || !to.Equal(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("span %v %v", from, to)
	}
}

func TestFileName(t *testing.T) {
	id, _ := archive.ParseID("0123456789abcdef0123456789abcdef")
	for _, tc := range []struct {
		name string
		gzip bool
		want string
	}{
		{"f9e5956e47d460010630009033302ab1-009033302ab1-11--username.pcap", false, "f9e5956e47d460010630009033302ab1-009033302ab1-11--username~01234567.pcap"},
		{"x.pcap.gz", true, "x~01234567.pcap"},
		{"x.pcapng.GZ", true, "x~01234567.pcapng"},
		{"x.gz", false, "x.gz~01234567.pcap"},
		{"noext", false, "noext~01234567.pcap"},
		{"", false, "recording~01234567.pcap"},
		{".pcap", false, "recording~01234567.pcap"},
		{"...hidden.pcap", false, "hidden~01234567.pcap"},
		{`a:b*c?d"e<f>g|h\i.pcap`, false, "i~01234567.pcap"},
		{"a:b*c?d\"e<f>g|h.pcap", false, "a_b_c_d_e_f_g_h~01234567.pcap"},
		{"tab\there.pcap", false, "tab_here~01234567.pcap"},
		{"bad\xffutf8.pcap", false, "bad_utf8~01234567.pcap"},
		{"Šiliņš.pcap", false, "Šiliņš~01234567.pcap"},
		{strings.Repeat("ø", 300) + ".pcap", false, strings.Repeat("ø", 100) + "~01234567.pcap"},
	} {
		got := fileName(&archive.Recording{ID: id, FileName: tc.name, Gzip: tc.gzip}, false)
		if got != tc.want {
			t.Errorf("%q: %q, want %q", tc.name, got, tc.want)
		}
		if !validSegment(got) {
			t.Errorf("%q: %q is not a valid segment", tc.name, got)
		}
	}
	if got := fileName(&archive.Recording{ID: id, FileName: "a.pcap"}, true); got != "a~0123456789abcdef0123456789abcdef.pcap" {
		t.Errorf("full: %q", got)
	}
}

// FuzzParsePath checks that every accepted path is canonical and stays in
// the tree: it re-parses to the same node, has no empty, "." or ".."
// segment, and names a real date.
func FuzzParsePath(f *testing.F) {
	for _, s := range []string{
		"/webdav/", "/webdav", "/webdav/2026/11/21/a~01234567.pcap", "/webdav/users/alice/2026/02/29/",
		"/webdav/users/_unassigned/", "/webdav/../x", "/webdav/2026/11/21/%2e%2e/", "/webdav//2026",
		"/webdav/users/Ærlig/2026/", "/webdav/9999/12/31/z", "/webdav/2026/11/21/a.pcap/",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		n, ok := parsePath("/webdav/", p)
		if !ok {
			return
		}
		canon := "/webdav/" + n.rel()
		m, ok := parsePath("/webdav/", canon)
		if !ok || m != n {
			t.Fatalf("%q → %q does not parse back (%v %+v %+v)", p, canon, ok, m, n)
		}
		if !utf8.ValidString(canon) || strings.Contains(canon, "//") {
			t.Fatalf("%q → %q", p, canon)
		}
		for _, s := range strings.Split(strings.TrimSuffix(n.rel(), "/"), "/") {
			if n.kind != kindRoot && (s == "." || s == ".." || s == "") {
				t.Fatalf("%q → segment %q", p, s)
			}
		}
		if n.kind >= kindDay {
			from, _ := n.span()
			if from.Year() != n.year || from.Month() != n.month || from.Day() != n.day {
				t.Fatalf("%q: not a real day", p)
			}
		}
		if n.kind != kindRoot && n.parent().rel() == n.rel() {
			t.Fatalf("%q: parent of itself", p)
		}
		if !strings.HasPrefix(p, "/webdav") {
			t.Fatalf("%q outside the prefix accepted", p)
		}
	})
}
