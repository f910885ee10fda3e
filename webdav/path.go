package webdav

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/callvault/callvault/archive"
)

// nodeKind says what a path names in the tree.
type nodeKind uint8

const (
	kindRoot  nodeKind = iota // /webdav/
	kindUsers                 // /webdav/users/
	kindUser                  // /webdav/users/<login>/
	kindYear                  // .../2026/
	kindMonth                 // .../2026/11/
	kindDay                   // .../2026/11/21/
	kindFile                  // .../2026/11/21/<name>
)

// unassigned is the users/ entry holding recordings without a user, or
// whose user has no account; only admins see it.
const unassigned = "_unassigned"

// usersDir is the root's entry for the by-user tree.
const usersDir = "users"

// maxSegment bounds one path segment (bytes); longer names never exist.
const maxSegment = 1024

// node is a parsed path below the prefix.
type node struct {
	kind   nodeKind
	inUser bool   // below users/<login>/
	user   string // the login of users/<login>/
	year   int
	month  time.Month
	day    int
	name   string // kindFile: the file name
}

// isDir reports whether the node is a collection.
func (n node) isDir() bool { return n.kind != kindFile }

// rel returns the node's canonical path below the prefix: collections end
// in '/', the root is "".
func (n node) rel() string {
	var b strings.Builder
	if n.inUser || n.kind == kindUsers {
		b.WriteString(usersDir + "/")
	}
	if n.inUser {
		b.WriteString(n.user)
		b.WriteByte('/')
	}
	if n.kind >= kindYear {
		fmt.Fprintf(&b, "%04d/", n.year)
	}
	if n.kind >= kindMonth {
		fmt.Fprintf(&b, "%02d/", int(n.month))
	}
	if n.kind >= kindDay {
		fmt.Fprintf(&b, "%02d/", n.day)
	}
	if n.kind == kindFile {
		b.WriteString(n.name)
	}
	return b.String()
}

// parent returns the collection holding n (the root's parent is the root).
func (n node) parent() node {
	p := n
	switch n.kind {
	case kindRoot, kindUsers:
		return node{kind: kindRoot}
	case kindUser:
		return node{kind: kindUsers}
	case kindYear:
		if n.inUser {
			p.kind = kindUser
		} else {
			p = node{kind: kindRoot}
		}
	case kindMonth:
		p.kind, p.month = kindYear, 0
	case kindDay:
		p.kind, p.day = kindMonth, 0
	case kindFile:
		p.kind, p.name = kindDay, ""
	}
	return p
}

// span returns the UTC time range a date collection covers (zero times
// for the root and user collections: unbounded).
func (n node) span() (from, to time.Time) {
	switch n.kind {
	case kindYear:
		from = time.Date(n.year, 1, 1, 0, 0, 0, 0, time.UTC)
		return from, from.AddDate(1, 0, 0)
	case kindMonth:
		from = time.Date(n.year, n.month, 1, 0, 0, 0, 0, time.UTC)
		return from, from.AddDate(0, 1, 0)
	case kindDay, kindFile:
		from = time.Date(n.year, n.month, n.day, 0, 0, 0, 0, time.UTC)
		return from, from.AddDate(0, 0, 1)
	}
	return time.Time{}, time.Time{}
}

// child returns the node of the entry called name inside collection n.
func (n node) child(name string, dir bool) (node, bool) {
	s := n.rel() + name
	if dir {
		s += "/"
	}
	return parseRel(s)
}

// parsePath parses a request path (decoded, as in URL.Path) that must lie
// under prefix ("/webdav/"); the prefix without its slash is the root too.
// It accepts only canonical paths: no empty, "." or ".." segments, no
// control characters, valid UTF-8, dates as YYYY/MM/DD of a real day, a
// trailing slash only on collections.
func parsePath(prefix, p string) (node, bool) {
	if p == strings.TrimSuffix(prefix, "/") {
		return node{kind: kindRoot}, true
	}
	rel, ok := strings.CutPrefix(p, prefix)
	if !ok {
		return node{}, false
	}
	return parseRel(rel)
}

func parseRel(rel string) (node, bool) {
	if rel == "" {
		return node{kind: kindRoot}, true
	}
	dir := strings.HasSuffix(rel, "/")
	rel = strings.TrimSuffix(rel, "/")
	segs := strings.Split(rel, "/")
	for _, s := range segs {
		if !validSegment(s) {
			return node{}, false
		}
	}
	var n node
	if segs[0] == usersDir {
		if len(segs) == 1 {
			return node{kind: kindUsers}, true
		}
		n.inUser, n.user, n.kind = true, segs[1], kindUser
		segs = segs[2:]
	}
	if len(segs) == 0 {
		return n, true
	}
	y, ok := digits(segs[0], 4)
	if !ok || y < 1 {
		return node{}, false
	}
	n.kind, n.year = kindYear, y
	if len(segs) == 1 {
		return n, true
	}
	m, ok := digits(segs[1], 2)
	if !ok || m < 1 || m > 12 {
		return node{}, false
	}
	n.kind, n.month = kindMonth, time.Month(m)
	if len(segs) == 2 {
		return n, true
	}
	d, ok := digits(segs[2], 2)
	if !ok || d < 1 || d > daysIn(y, time.Month(m)) {
		return node{}, false
	}
	n.kind, n.day = kindDay, d
	switch {
	case len(segs) == 3:
		return n, true
	case len(segs) == 4 && !dir:
		n.kind, n.name = kindFile, segs[3]
		return n, true
	}
	return node{}, false
}

// validSegment reports whether s can be one segment of a tree path.
func validSegment(s string) bool {
	if s == "" || s == "." || s == ".." || len(s) > maxSegment || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r == '/' || r == '\\' || unicode.IsControl(r) || r == utf8.RuneError {
			return false
		}
	}
	return true
}

// digits parses exactly n ASCII digits.
func digits(s string, n int) (int, bool) {
	if len(s) != n {
		return 0, false
	}
	v := 0
	for i := 0; i < n; i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

func daysIn(y int, m time.Month) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// Names of originals. An upload's name is kept, made safe for every
// client's file system, and made unique and stable by the first 8 hex
// digits of the recording ID: "<name without extension>~<id8>.pcap".
// Gzip uploads are stored decompressed and served as .pcap. When two
// recordings in one collection would still share a name, both use the
// whole ID; this depends only on the recordings, so names survive restarts.

const (
	maxBase   = 200 // bytes of the upload's name kept, cut at a rune boundary
	idShort   = 8
	extPcap   = ".pcap"
	extPcapng = ".pcapng"
)

// fileName returns a recording's name in the tree; full selects the whole
// ID instead of its first 8 hex digits.
func fileName(r *archive.Recording, full bool) string {
	base, ext := splitName(r.FileName, r.Gzip)
	id := r.ID.String()
	if !full {
		id = id[:idShort]
	}
	return base + "~" + id + ext
}

// splitName sanitises an upload name and splits off its capture extension.
func splitName(name string, gzip bool) (base, ext string) {
	name = strings.ToValidUTF8(name, "_")
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	lower := strings.ToLower(name)
	if gzip && strings.HasSuffix(lower, ".gz") {
		name, lower = name[:len(name)-3], lower[:len(lower)-3]
	}
	ext = extPcap
	switch {
	case strings.HasSuffix(lower, extPcapng):
		name, ext = name[:len(name)-len(extPcapng)], extPcapng
	case strings.HasSuffix(lower, extPcap):
		name = name[:len(name)-len(extPcap)]
	}
	var b strings.Builder
	for _, r := range name {
		if b.Len()+utf8.RuneLen(r) > maxBase {
			break
		}
		switch {
		case unicode.IsControl(r), r == utf8.RuneError, strings.ContainsRune(`/\:*?"<>|`, r):
			b.WriteByte('_')
		default:
			b.WriteRune(r)
		}
	}
	base = strings.TrimLeft(b.String(), ".")
	if base == "" {
		base = "recording"
	}
	return base, ext
}

// loginDir reports whether a login can be a users/<login>/ segment.
func loginDir(login string) bool {
	return validSegment(login) && login != unassigned
}
