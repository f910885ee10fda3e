package export

import (
	"bytes"
	"fmt"
	"strconv"
	"time"

	"codeberg.org/go-pdf/fpdf"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/gomono"
	"golang.org/x/image/font/gofont/goregular"
)

// CallDoc is what the call-information PDF shows, prepared by the caller
// from a recording, its notes and the appliance's settings: every value
// is text already, apart from the creation time.
type CallDoc struct {
	PBXName   string
	Title     string
	Facts     [][2]string // label, value
	Calls     []CallDocCall
	Notes     []CallDocNote
	Seal      [][2]string // label, value (monospace values)
	WAVs      [][2]string // file name, sha256
	KeyFP     string
	Generated time.Time // the PDF's creation date (fixed in tests)
	Loc       *time.Location
}

// CallDocCall is one call of the recording.
type CallDocCall struct {
	Heading string
	Facts   [][2]string
}

// CallDocNote is one note on the recording.
type CallDocNote struct {
	Author, When, Text string
}

// CallInfoPDF writes the document as an A4 PDF with an embedded UTF-8 font,
// so names in any European script render. The output depends only on d.
func CallInfoPDF(d *CallDoc) ([]byte, error) {
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
		return nil, fmt.Errorf("export: pdf: %w", err)
	}
	var buf bytes.Buffer
	if err := pdf.Output(&buf); err != nil {
		return nil, fmt.Errorf("export: pdf: %w", err)
	}
	return buf.Bytes(), nil
}

// formatTime is t in loc as the pages show it; "" for the zero time.
func formatTime(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return ""
	}
	return t.In(loc).Format("2006-01-02 15:04:05")
}
