package webcore

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/recinfo"
)

// directions of a call, seen from the recording's owner.
const (
	DirIn      = "in"
	DirOut     = "out"
	DirUnknown = ""
)

// callDirection tells whether the owner placed (out) or received (in) the
// call: the owner's extension as the calling or the called number. It is
// unknown when neither side is one of the owner's extensions.
func CallDirection(in *recinfo.Info, owner *archive.User) string {
	if owner == nil || len(owner.Extensions) == 0 {
		return DirUnknown
	}
	for _, c := range in.Result.Calls {
		switch {
		case c.From.Number != "" && slices.Contains(owner.Extensions, c.From.Number):
			return DirOut
		case c.To.Number != "" && slices.Contains(owner.Extensions, c.To.Number):
			return DirIn
		}
	}
	return DirUnknown
}

func DirectionLabel(d string) string {
	switch d {
	case DirIn:
		return "Incoming"
	case DirOut:
		return "Outgoing"
	case DirInternal:
		return "Internal"
	}
	return "—"
}

// remoteParty is the party that is not the owner, for the list's "with"
// column; both parties when that cannot be told.
func RemoteParty(in *recinfo.Info, dir string) string {
	var parts []string
	for _, c := range in.Result.Calls {
		switch dir {
		case DirOut:
			parts = append(parts, c.To.String())
		case DirIn:
			parts = append(parts, c.From.String())
		default:
			f, t := c.From.String(), c.To.String()
			switch {
			case f != "" && t != "":
				parts = append(parts, f+" → "+t)
			default:
				parts = append(parts, f+t)
			}
		}
	}
	parts = slices.Compact(parts)
	return strings.Join(slices.DeleteFunc(parts, func(s string) bool { return s == "" }), "; ")
}

// lossPercent is lost / (received + lost) in percent, "" without packets.
func LossPercent(packets, lost int) string {
	if packets+lost <= 0 {
		return ""
	}
	return fmt.Sprintf("%.1f %%", 100*float64(lost)/float64(packets+lost))
}

// callStats sums the streams of call c: codecs, packets, lost.
func CallStats(in *recinfo.Info, c int) (codecs []string, packets, lost int) {
	for _, s := range in.Result.Streams {
		if s.Call != c {
			continue
		}
		if s.Codec != "" && s.Codec != "telephone-event" && !slices.Contains(codecs, s.Codec) {
			codecs = append(codecs, s.Codec)
		}
		packets += s.Packets
		lost += s.Lost
	}
	return codecs, packets, lost
}

// encryption names the encryption of call c's media ("SRTP", "DTLS-SRTP",
// "ZRTP"), or "" when none of its streams is encrypted; with c < 0 it looks
// at every call.
func Encryption(in *recinfo.Info, c int) string {
	for _, s := range in.Result.Streams {
		if s.Encrypted && (c < 0 || s.Call == c) {
			if s.Encryption == "" {
				return "SRTP"
			}
			return strings.ToUpper(s.Encryption)
		}
	}
	return ""
}

// ownerName returns the display name of login from users, or the login.
func OwnerName(users map[string]*archive.User, login string) string {
	if u := users[strings.ToLower(login)]; u != nil && u.Name != "" {
		return u.Name
	}
	return login
}

// userIndex maps lower-case logins to users.
func UserIndex(users []archive.User) map[string]*archive.User {
	m := make(map[string]*archive.User, len(users))
	for i := range users {
		m[strings.ToLower(users[i].Login)] = &users[i]
	}
	return m
}

// recTime is when the recording's call started (received, if unknown).
func RecTime(rec *archive.Recording) time.Time {
	if !rec.StartTime.IsZero() {
		return rec.StartTime
	}
	return rec.Received
}

// formatTime shows t in loc, or "" when zero.
func FormatTime(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return ""
	}
	return t.In(loc).Format("2006-01-02 15:04:05")
}

// isoTime is t for a <time datetime> attribute.
func IsoTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// formatDuration shows ms as h:mm:ss or m:ss.
func FormatDuration(ms int64) string {
	s := (ms + 500) / 1000
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

func StateLabel(s archive.State) string {
	switch s {
	case archive.StateComplete:
		return "complete"
	case archive.StateRecording:
		return "recording now"
	case archive.StateInterrupted:
		return "interrupted"
	}
	return string(s)
}
