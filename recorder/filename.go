package recorder

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/callvault/callvault/recinfo"
)

// FileName is what an upload's name tells about the recording:
// recinfo.FileName, as ParseFileName fills it.
type FileName = recinfo.FileName

// DefaultNamePattern is the innovaphone "Record to URL" naming,
// <guid>-<mac>-<serial>[-<reg-name>], as seen in the field:
//
//	f9e5956e47d460010630009033302ab1-009033302ab1-11--username.pcap
//
// Devices put an empty field before the registration name (the double
// dash), so the user part is everything after the dashes that follow the
// serial: one or more. A registration name that itself starts with a dash
// therefore loses it. Hex digits match in either case and are returned in
// lowercase.
//
// A pattern for ParseFileName may use the group names guid, mac, serial
// and user; groups it does not have give empty fields.
const DefaultNamePattern = `^(?P<guid>[0-9a-fA-F]{32})-(?P<mac>[0-9a-fA-F]{12})-(?P<serial>[^-]*)(?:-+(?P<user>.*))?$`

// maxFileNameLen bounds the names ParseFileName looks at.
const maxFileNameLen = 1024

// ErrBadFileName is returned (wrapped) by ParseFileName for names it
// refuses or that do not match the pattern.
var ErrBadFileName = errors.New("recorder: bad file name")

// defaultNameRE is DefaultNamePattern compiled; a *regexp.Regexp is safe
// for concurrent use and never changes.
var defaultNameRE = regexp.MustCompile(DefaultNamePattern)

// captureExts are the capture file extensions ParseFileName strips, after
// an optional ".gz" (compared case-insensitively).
var captureExts = [...]string{".pcapng", ".pcap", ".cap"}

// ParseFileName parses an upload's file name (already percent-decoded, no
// directory) with pattern, or DefaultNamePattern when pattern is nil. The
// extension is stripped first: ".gz", then one of ".pcap", ".pcapng",
// ".cap". Names that are empty, longer than 1024 bytes, not UTF-8, or that
// hold a path separator or a control character are refused, as are names
// the pattern does not match; the error wraps ErrBadFileName.
func ParseFileName(pattern *regexp.Regexp, name string) (FileName, error) {
	if pattern == nil {
		pattern = defaultNameRE
	}
	if name == "" || len(name) > maxFileNameLen {
		return FileName{}, fmt.Errorf("%w: length %d", ErrBadFileName, len(name))
	}
	if !utf8.ValidString(name) {
		return FileName{}, fmt.Errorf("%w: not UTF-8", ErrBadFileName)
	}
	for _, r := range name {
		if r == '/' || r == '\\' || r < 0x20 || (r >= 0x7f && r < 0xa0) || r == 0x2028 || r == 0x2029 {
			return FileName{}, fmt.Errorf("%w: forbidden character %U", ErrBadFileName, r)
		}
	}
	base := stripCaptureExt(name)
	if base == "" || base == "." || base == ".." {
		return FileName{}, fmt.Errorf("%w: no name before the extension", ErrBadFileName)
	}
	m := pattern.FindStringSubmatch(base)
	if m == nil {
		return FileName{}, fmt.Errorf("%w: %q does not match the pattern", ErrBadFileName, base)
	}
	var fn FileName
	for i, g := range pattern.SubexpNames() {
		if i == 0 || i >= len(m) {
			continue
		}
		switch g {
		case "guid":
			fn.GUID = strings.ToLower(m[i])
		case "mac":
			fn.MAC = strings.ToLower(m[i])
		case "serial":
			fn.Serial = m[i]
		case "user":
			fn.User = m[i]
		}
	}
	return fn, nil
}

// stripCaptureExt removes ".gz" and then a capture extension from name.
func stripCaptureExt(name string) string {
	if hasSuffixFold(name, ".gz") {
		name = name[:len(name)-3]
	}
	for _, ext := range captureExts {
		if hasSuffixFold(name, ext) {
			return name[:len(name)-len(ext)]
		}
	}
	return name
}

func hasSuffixFold(s, suffix string) bool {
	return len(s) >= len(suffix) && strings.EqualFold(s[len(s)-len(suffix):], suffix)
}
