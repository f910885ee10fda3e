package archive

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Limits on a recording's parties (Final.Parties); Finish refuses more.
const (
	MaxParties  = 64
	MaxPartyLen = 512
)

const minPartyNorm = 2 // digits a number needs to match as a number

func validParties(ps []string) error {
	if len(ps) > MaxParties {
		return fmt.Errorf("archive: more than %d parties: %w", MaxParties, ErrInvalid)
	}
	for _, p := range ps {
		if len(p) > MaxPartyLen || !utf8.ValidString(p) {
			return fmt.Errorf("archive: party too long or not UTF-8: %w", ErrInvalid)
		}
	}
	return nil
}

// MayRead reports whether u may read rec: its metadata, audio, original,
// notes, seal and every export of it. This one rule serves the web UI, the
// JSON API, WebDAV and downloads:
//
//   - nobody, when u is nil or disabled, or rec is nil or in the recycle
//     bin (see MayRestore);
//   - an admin, every recording;
//   - the ingest role, none (it uploads, it does not read);
//   - anyone else, the recordings whose User is their own login or a login
//     on their AccessList (case-insensitive), and the recordings one of
//     whose Parties matches one of their Extensions or an AccessList entry.
//
// A party matches an extension or access-list entry when both are equal
// ignoring case, or when both are numbers and are equal after dropping
// everything but digits and a leading '+' ("+49 (89) 123-45" matches
// "+498912345"; "sip:204@pbx.example" matches extension "204" by its user
// part). Entries of fewer than two digits never match by number.
func MayRead(u *User, rec *Recording) bool {
	if u == nil || rec == nil || u.Disabled || !rec.Binned.IsZero() {
		return false
	}
	switch u.Role {
	case RoleAdmin:
		return true
	case RoleIngest:
		return false
	case RoleUser, RoleSupervisor:
	default:
		return false
	}
	if rec.User != "" {
		if strings.EqualFold(rec.User, u.Login) {
			return true
		}
		for _, l := range u.AccessList {
			if strings.EqualFold(rec.User, strings.TrimSpace(l)) {
				return true
			}
		}
	}
	if len(rec.Parties) == 0 {
		return false
	}
	for _, p := range rec.Parties {
		pn := partyKey(p)
		for _, lists := range [2][]string{u.Extensions, u.AccessList} {
			for _, x := range lists {
				if partyMatch(pn, p, x) {
					return true
				}
			}
		}
	}
	return false
}

// partyMatch compares a party (pre-normalised as pn) with an extension or
// access-list entry.
func partyMatch(pn, party, entry string) bool {
	entry = strings.TrimSpace(entry)
	if entry == "" {
		return false
	}
	if strings.EqualFold(strings.TrimSpace(party), entry) {
		return true
	}
	en := partyKey(entry)
	return en != "" && pn == en
}

// partyKey normalises a number: the user part of a sip:/sips:/tel: URI,
// then only a leading '+' and the digits. It returns "" when fewer than
// two digits remain or when anything but digits, '+', spaces, '-', '.',
// '/', '(' and ')' is present (a name, not a number).
func partyKey(s string) string {
	s = strings.TrimSpace(s)
	low := strings.ToLower(s)
	for _, scheme := range []string{"sip:", "sips:", "tel:"} {
		if strings.HasPrefix(low, scheme) {
			s = s[len(scheme):]
			if i := strings.IndexAny(s, "@;"); i >= 0 {
				s = s[:i]
			}
			break
		}
	}
	var b strings.Builder
	digits := 0
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
			digits++
		case r == '+' && i == 0:
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '.' || r == '/' || r == '(' || r == ')':
		default:
			return ""
		}
	}
	if digits < minPartyNorm {
		return ""
	}
	return b.String()
}
