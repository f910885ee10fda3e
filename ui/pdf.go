package ui

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"codeberg.org/go-pdf/fpdf"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/gomono"
	"golang.org/x/image/font/gofont/goregular"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/recinfo"
)

// callDoc is what the call-information PDF shows, prepared from a
// recording, its notes and the appliance's settings.
type callDoc struct {
	PBXName   string
	Title     string
	Facts     [][2]string // label, value
	Calls     []callDocCall
	Notes     []callDocNote
	Seal      [][2]string // label, value (monospace values)
	WAVs      [][2]string // file name, sha256
	KeyFP     string
	Generated time.Time // the PDF's creation date (fixed in tests)
	Loc       *time.Location
}

type callDocCall struct {
	Heading string
	Facts   [][2]string
}

type callDocNote struct {
	Author, When, Text string
}

// newCallDoc prepares the document for rec.
func newCallDoc(rec *archive.Recording, users map[string]*archive.User, notes []archive.Note,
	settings archive.Settings, loc *time.Location, pub []byte, wavs [][2]string, now time.Time) *callDoc {
	in := recinfo.ParseLenient(rec.Info)
	owner := users[strings.ToLower(rec.User)]
	dir := callDirection(in, owner)
	d := &callDoc{PBXName: settings.PBXName, Generated: now, Loc: loc, KeyFP: keyFingerprint(pub), WAVs: wavs}
	if d.PBXName == "" {
		d.PBXName = "callvault"
	}
	d.Title = remoteParty(in, dir)
	if d.Title == "" {
		d.Title = "Call recording"
	}
	user := ownerName(users, rec.User)
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
	add("Direction", directionLabel(dir))
	add("Start", formatTime(recTime(rec), loc)+" ("+loc.String()+")")
	add("Duration", formatDuration(rec.DurationMs))
	add("State", stateLabel(rec.State))
	add("Received", formatTime(rec.Received, loc))
	add("Finished", formatTime(rec.Finished, loc))
	add("File", rec.FileName)
	add("Call id", rec.CallGUID)
	add("Original SHA-256", hex.EncodeToString(rec.OrigSHA256[:]))
	for i, c := range in.Result.Calls {
		codecs, packets, lost := callStats(in, i)
		cd := callDocCall{Heading: "Call " + strconv.Itoa(i+1)}
		f := func(k, v string) {
			if v != "" {
				cd.Facts = append(cd.Facts, [2]string{k, v})
			}
		}
		f("From", c.From.String())
		f("To", c.To.String())
		f("Start", formatTime(c.Start, loc))
		f("Duration", formatDuration(c.DurationMs))
		f("Codec", strings.Join(codecs, ", "))
		loss := lossPercent(packets, lost)
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
	for _, n := range notes {
		when := formatTime(n.Created, loc)
		if !n.Updated.IsZero() && !n.Updated.Equal(n.Created) {
			when += ", edited " + formatTime(n.Updated, loc)
		}
		d.Notes = append(d.Notes, callDocNote{Author: ownerName(users, n.Author), When: when, Text: n.Text})
	}
	if s := rec.Seal; s != nil {
		d.Seal = [][2]string{
			{"Chain entry", strconv.FormatUint(s.Seq, 10)},
			{"Sealed", formatTime(s.Time, loc)},
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

// renderPDF writes the document as an A4 PDF with an embedded UTF-8 font,
// so names in any European script render. The output depends only on d.
func renderPDF(d *callDoc) ([]byte, error) {
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetCompression(true)
	pdf.SetCatalogSort(true)
	pdf.SetCreationDate(d.Generated)
	pdf.SetModificationDate(d.Generated)
	pdf.SetProducer("callvault", true)
	pdf.SetCreator("callvault", true)
	pdf.SetTitle(d.PBXName+": "+d.Title, true)
	// fpdf rewrites composite glyphs inside the font bytes it is given,
	// so each document gets its own copy: the shared font data stays
	// intact and concurrent renders do not race.
	pdf.AddUTF8FontFromBytes("go", "", bytes.Clone(goregular.TTF))
	pdf.AddUTF8FontFromBytes("go", "B", bytes.Clone(gobold.TTF))
	pdf.AddUTF8FontFromBytes("gomono", "", bytes.Clone(gomono.TTF))
	pdf.SetMargins(18, 18, 18)
	pdf.SetAutoPageBreak(true, 18)
	pdf.AliasNbPages("{nb}")
	pdf.SetHeaderFunc(func() {
		pdf.SetFont("go", "B", 9)
		pdf.SetTextColor(90, 90, 90)
		pdf.CellFormat(0, 5, d.PBXName, "", 0, "L", false, 0, "")
		pdf.SetFont("go", "", 9)
		pdf.CellFormat(0, 5, "Call recording", "", 1, "R", false, 0, "")
		pdf.SetDrawColor(200, 200, 200)
		pdf.Line(18, pdf.GetY()+1, 192, pdf.GetY()+1)
		pdf.Ln(6)
		pdf.SetTextColor(20, 20, 20)
	})
	pdf.SetFooterFunc(func() {
		pdf.SetY(-14)
		pdf.SetFont("go", "", 8)
		pdf.SetTextColor(110, 110, 110)
		pdf.CellFormat(0, 5, "Generated "+formatTime(d.Generated, d.Loc)+" · page "+strconv.Itoa(pdf.PageNo())+" of {nb}", "", 0, "C", false, 0, "")
	})
	pdf.AddPage()

	pdf.SetFont("go", "B", 16)
	pdf.MultiCell(0, 8, d.Title, "", "L", false)
	pdf.Ln(3)

	const labelW = 42
	facts := func(rows [][2]string, mono bool) {
		for _, kv := range rows {
			pdf.SetFont("go", "", 10)
			pdf.SetTextColor(95, 95, 95)
			y := pdf.GetY()
			pdf.CellFormat(labelW, 5.5, kv[0], "", 0, "L", false, 0, "")
			pdf.SetTextColor(20, 20, 20)
			if mono {
				pdf.SetFont("gomono", "", 8.5)
			}
			pdf.SetXY(18+labelW, y)
			pdf.MultiCell(0, 5.5, kv[1], "", "L", false)
		}
	}
	heading := func(s string) {
		pdf.Ln(4)
		pdf.SetFont("go", "B", 12)
		pdf.SetTextColor(20, 20, 20)
		pdf.CellFormat(0, 7, s, "", 1, "L", false, 0, "")
	}
	facts(d.Facts, false)
	for _, c := range d.Calls {
		heading(c.Heading)
		facts(c.Facts, false)
	}
	heading("Notes")
	if len(d.Notes) == 0 {
		pdf.SetFont("go", "", 10)
		pdf.CellFormat(0, 5.5, "No notes.", "", 1, "L", false, 0, "")
	}
	for _, n := range d.Notes {
		pdf.SetFont("go", "B", 10)
		pdf.MultiCell(0, 5.5, n.Author+" · "+n.When, "", "L", false)
		pdf.SetFont("go", "", 10)
		pdf.MultiCell(0, 5.5, n.Text, "", "L", false)
		pdf.Ln(2)
	}
	heading("Seal")
	if len(d.Seal) == 0 {
		pdf.SetFont("go", "", 10)
		pdf.CellFormat(0, 5.5, "This recording is not sealed.", "", 1, "L", false, 0, "")
	} else {
		facts(d.Seal, true)
	}
	if len(d.WAVs) > 0 || d.KeyFP != "" {
		heading("Files in this download")
		rows := append([][2]string(nil), d.WAVs...)
		if d.KeyFP != "" {
			rows = append(rows, [2]string{"Key fingerprint", d.KeyFP})
		}
		facts(rows, true)
		pdf.Ln(2)
		pdf.SetFont("go", "", 9)
		pdf.SetTextColor(80, 80, 80)
		pdf.MultiCell(0, 5, "Check this download offline with: callvault verify FILE.zip --pubkey KEY "+
			"(KEY is the appliance's public key, as shown on its settings page). The notes and this document are "+
			"not part of the seal; the audio, the original capture and the metadata are.", "", "L", false)
	}
	if err := pdf.Error(); err != nil {
		return nil, fmt.Errorf("ui: pdf: %w", err)
	}
	var buf bytes.Buffer
	if err := pdf.Output(&buf); err != nil {
		return nil, fmt.Errorf("ui: pdf: %w", err)
	}
	return buf.Bytes(), nil
}
