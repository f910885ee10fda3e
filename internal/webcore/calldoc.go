package webcore

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/export"
	"github.com/callvault/callvault/recinfo"
)

// newCallDoc prepares the call-information document for rec, in the
// words and formats of the pages.
func NewCallDoc(rec *archive.Recording, users map[string]*archive.User, notes []archive.Note,
	settings archive.Settings, loc *time.Location, pub []byte, wavs [][2]string, now time.Time) *export.CallDoc {
	in := recinfo.ParseLenient(rec.Info)
	owner := users[strings.ToLower(rec.User)]
	dir := Direction(rec, in, owner)
	d := &export.CallDoc{PBXName: settings.PBXName, Generated: now, Loc: loc, KeyFP: export.KeyFingerprint(pub), WAVs: wavs}
	if d.PBXName == "" {
		d.PBXName = "callvault"
	}
	d.Title = With(rec, in, dir)
	if d.Title == "" {
		d.Title = "Call recording"
	}
	user := OwnerName(users, rec.User)
	if user != rec.User && rec.User != "" {
		user += " (" + rec.User + ")"
	}
	add := func(k, v string) {
		if v != "" {
			d.Facts = append(d.Facts, [2]string{k, v})
		}
	}
	add("Recording", rec.ID.String())
	add("User", user)
	add("Direction", DirectionLabel(dir))
	add("Start", FormatTime(RecTime(rec), loc)+" ("+loc.String()+")")
	add("Duration", FormatDuration(rec.DurationMs))
	add("State", StateLabel(rec.State))
	add("Received", FormatTime(rec.Received, loc))
	add("Finished", FormatTime(rec.Finished, loc))
	add("File", rec.FileName)
	add("Call id", rec.CallGUID)
	add("Original SHA-256", hex.EncodeToString(rec.OrigSHA256[:]))
	for i, c := range in.Result.Calls {
		codecs, packets, lost := CallStats(in, i)
		cd := export.CallDocCall{Heading: "Call " + strconv.Itoa(i+1)}
		f := func(k, v string) {
			if v != "" {
				cd.Facts = append(cd.Facts, [2]string{k, v})
			}
		}
		f("From", c.From.String())
		f("To", c.To.String())
		f("Start", FormatTime(c.Start, loc))
		f("Duration", FormatDuration(c.DurationMs))
		f("Codec", strings.Join(codecs, ", "))
		loss := LossPercent(packets, lost)
		if loss != "" {
			loss = " (" + loss + " lost)"
		}
		f("Packets", fmt.Sprintf("%d received, %d lost%s", packets, lost, loss))
		var digits []string
		for _, t := range c.DTMF {
			digits = append(digits, t.Digit)
		}
		f("DTMF", strings.Join(digits, " "))
		f("SIP Call-ID", c.CallID)
		d.Calls = append(d.Calls, cd)
	}
	for i, c := range rec.CDRs {
		d.Calls = append(d.Calls, export.CallDocCall{Heading: CDRHeading(i), Facts: CDRFacts(c, loc)})
	}
	for _, n := range notes {
		when := FormatTime(n.Created, loc)
		if !n.Updated.IsZero() && !n.Updated.Equal(n.Created) {
			when += ", edited " + FormatTime(n.Updated, loc)
		}
		d.Notes = append(d.Notes, export.CallDocNote{Author: OwnerName(users, n.Author), When: when, Text: n.Text})
	}
	if s := rec.Seal; s != nil {
		d.Seal = [][2]string{
			{"Chain entry", strconv.FormatUint(s.Seq, 10)},
			{"Sealed", FormatTime(s.Time, loc)},
			{"Original", hex.EncodeToString(s.OrigSHA256[:])},
			{"Map", hex.EncodeToString(s.MapSHA256[:])},
			{"Metadata", hex.EncodeToString(s.MetaSHA256[:])},
		}
		for i, e := range s.Exports {
			d.Seal = append(d.Seal, [2]string{"WAV " + strconv.Itoa(i+1), hex.EncodeToString(e[:])})
		}
		d.Seal = append(d.Seal, [2]string{"Previous", hex.EncodeToString(s.Prev[:])})
		d.Seal = append(d.Seal, [2]string{"Signature", hex.EncodeToString(s.Signature)})
	}
	return d
}
