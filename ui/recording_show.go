package ui

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/codec"
	"github.com/callvault/callvault/export"
	"github.com/callvault/callvault/internal/i18n"
	"github.com/callvault/callvault/internal/webcore"
	"github.com/callvault/callvault/recinfo"
)

type recView struct {
	ID                                     string
	Title                                  string
	Start, StartISO, Duration              string
	Received, Finished                     string
	State, StateLabel                      string
	User, UserName                         string
	FileName, CallGUID                     string
	Direction, DirLabel                    string
	Size, SHA256                           string
	Device                                 string
	Truncated                              bool
	Damage                                 string
	Warnings                               []string
	DownloadURL, OriginalURL, PageURL      string
	AudioURL, MonoURL, PeaksURL, MonoPeaks string
	// CDRs: the call detail records the PBX sent for this call.
	CDRs []cdrView
	// Masked is set when ingest masked parts of the capture before
	// storing it.
	Masked *maskedView
}

// maskedView says what ingest masked: stretches of DTMF and of secure
// pauses (counted on the stream that has most: every direction is
// masked), when the pauses were, the event packets that lost their digit,
// and the SHA-256 of the capture as received.
type maskedView struct {
	DTMF, Pause, Events int
	Pauses              []string // "0:05–0:09" from the recording's start
	Received            string
}

func maskedOf(in *recinfo.Info) *maskedView {
	m := in.Masking
	if m == nil {
		return nil
	}
	v := &maskedView{Events: m.EventPackets, Received: m.ReceivedHMAC}
	dtmf, pause := map[int]int{}, map[int][]recinfo.MaskSpan{}
	for _, sp := range m.Spans {
		if sp.Reason == recinfo.MaskPause {
			pause[sp.Stream] = append(pause[sp.Stream], sp)
		} else {
			dtmf[sp.Stream]++
		}
	}
	for _, n := range dtmf {
		v.DTMF = max(v.DTMF, n)
	}
	var most []recinfo.MaskSpan
	for _, sps := range pause {
		if len(sps) > len(most) {
			most = sps
		}
	}
	v.Pause = len(most)
	start := uint32(0)
	if len(in.Result.Calls) > 0 {
		start = in.Result.Calls[0].StartPos
	}
	at := func(pos uint32) string {
		s := int64(max(pos, start)-start) / 8000
		return fmt.Sprintf("%d:%02d", s/60, s%60)
	}
	for _, sp := range most {
		v.Pauses = append(v.Pauses, at(sp.StartPos)+"–"+at(sp.EndPos))
	}
	return v
}

type cdrView struct {
	Heading string
	Facts   [][2]string
}

type callView struct {
	Number          int // 1-based
	URL             string
	Selected        bool
	From, To        string
	Start, StartISO string
	Duration        string
	Codecs          string
	Packets, Lost   int
	LossPct         string
	DTMF            string
	DTMFInBand      string // digits found as tones in the audio
	SIPCallID       string
	Streams         []streamView
	Encryption      string // "SRTP"... when the call's media is encrypted
}

type streamView struct {
	Side          string // "Remote (left)" / "Local (right)"
	Codec         string
	Src, Dst      string
	Packets, Lost int
	LossPct       string
	Jitter        string
	Unsupported   bool
	Encrypted     bool
}

type segmentView struct {
	URL, When, Duration string
	Current             bool
}

type noteView struct {
	ID                 uint64
	Author             string
	Created, Updated   string
	Edited             bool
	Text               string
	MayEdit            bool
	EditURL, DeleteURL string
}

type sealView2 struct {
	Seq                 uint64
	Time                string
	Orig, Map, Meta     string
	Exports             []string
	KeyFingerprint      string
	PublicKey           string
	PrevHash, Signature string
}

type verifyView struct {
	Valid          bool
	Problems       []string
	ExportsPending bool // the export hashes are not sealed yet
}

type recordingPage struct {
	Base
	Rec       recView
	Calls     []callView
	Call      *callView // the selected call
	Segments  []segmentView
	Notes     []noteView
	NoteURL   string
	VerifyURL string
	Seal      *sealView2
	Verify    *verifyView
	NoteError string
	Life      *lifeView // legal hold, delete, deletion date (lifecycle.go)

	// SealProblem is why the seal check made before playback
	// (archive.CheckPlayback) failed; playback and downloads are refused.
	SealProblem string

	// WholeCall: the call is recorded in several parts and the player
	// plays them as one timeline, with a mark where each part begins.
	WholeCall    bool
	CallDuration string // of the whole call
	PartMarks    []partMark
	PauseMarks   []pauseMark // secure pauses on the selected call's waveform
	// ThisPartURL downloads only this recording when DownloadURL is the
	// whole call's.
	ThisPartURL string
	// Undecodable: no audio of the selected call can be played (codec,
	// encryption); the page shows what can be done instead of a player.
	Undecodable *undecodable
}

// partMark is where a part of a call begins on the whole call's timeline.
type partMark struct {
	Number     int     // 2, 3, ...
	At         float64 // seconds
	Pct        string  // of the timeline, for CSS
	Start, URL string
}

// pauseMark is a secure pause on the waveform: where it begins and how
// long it is, as a share of the call's timeline.
type pauseMark struct {
	Left, Width string // CSS percentages
	From, To    string // m:ss from the call's start
}

// pauseMarks returns the secure pauses of call (0-based) of in, as the
// stream of the call with most pause spans has them.
func pauseMarks(in *recinfo.Info, call int) []pauseMark {
	if in.Masking == nil || call < 0 || call >= len(in.Result.Calls) {
		return nil
	}
	c := in.Result.Calls[call]
	if c.EndPos <= c.StartPos {
		return nil
	}
	by := map[int][]recinfo.MaskSpan{}
	var most []recinfo.MaskSpan
	for _, sp := range in.Masking.Spans {
		if sp.Reason != recinfo.MaskPause || sp.Stream >= len(in.Result.Streams) || in.Result.Streams[sp.Stream].Call != call {
			continue
		}
		by[sp.Stream] = append(by[sp.Stream], sp)
		if len(by[sp.Stream]) > len(most) {
			most = by[sp.Stream]
		}
	}
	span := float64(c.EndPos - c.StartPos)
	pct := func(pos uint32) float64 {
		return 100 * float64(min(max(pos, c.StartPos), c.EndPos)-c.StartPos) / span
	}
	var out []pauseMark
	for _, sp := range most {
		l, r := pct(sp.StartPos), pct(sp.EndPos)
		out = append(out, pauseMark{
			Left: strconv.FormatFloat(l, 'f', 3, 64) + "%", Width: strconv.FormatFloat(r-l, 'f', 3, 64) + "%",
			From: webcore.FormatDuration(int64(max(sp.StartPos, c.StartPos)-c.StartPos) / 8),
			To:   webcore.FormatDuration(int64(min(sp.EndPos, c.EndPos)-c.StartPos) / 8),
		})
	}
	return out
}

// loadRecording reads {id} and checks the viewer's right to it; a
// recording the viewer may not read is not found, like a missing one.
func (u *UI) loadRecording(r *http.Request, rc *reqCtx) (*archive.Recording, error) {
	id, err := archive.ParseID(r.PathValue("id"))
	if err != nil {
		return nil, &pageError{code: http.StatusNotFound, msg: "msg.thereNoSuchRecording2"}
	}
	rec, err := u.arc.Get(r.Context(), id)
	if err != nil {
		if isNotFound(err) {
			return nil, &pageError{code: http.StatusNotFound, msg: "msg.thereNoSuchRecording2"}
		}
		return nil, err
	}
	if !u.opts.FourEyes.MayRead(rc.user, rec) {
		return nil, &pageError{code: http.StatusNotFound, msg: "msg.thereNoSuchRecording2"}
	}
	return rec, nil
}

func (u *UI) recordingShow(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	rec, err := u.loadRecording(r, rc)
	if err != nil {
		return err
	}
	p, err := u.recordingPage(r, rc, rec)
	if err != nil {
		return err
	}
	u.render(w, r, http.StatusOK, "recording.html", p)
	return nil
}

// selectedCall reads ?call=N (1-based), default 1.
func selectedCall(r *http.Request, n int) int {
	c, err := strconv.Atoi(r.URL.Query().Get("call"))
	if err != nil || c < 1 || c > n {
		return 1
	}
	return c
}

func (u *UI) recordingPage(r *http.Request, rc *reqCtx, rec *archive.Recording) (recordingPage, error) {
	ctx := r.Context()
	users, err := u.arc.Users(ctx)
	if err != nil {
		return recordingPage{}, err
	}
	idx := webcore.UserIndex(users)
	in := recinfo.ParseLenient(rec.Info)
	owner := idx[strings.ToLower(rec.User)]
	dir := webcore.Direction(rec, in, owner)
	id := rec.ID.String()
	page := "/recordings/" + id
	api := "/api/v1/recordings/" + id
	p := recordingPage{NoteURL: page + "/notes", VerifyURL: page + "/verify"}
	v := recView{
		ID: id, Start: rc.when(webcore.RecTime(rec)), StartISO: webcore.IsoTime(webcore.RecTime(rec)),
		Duration: webcore.FormatDuration(rec.DurationMs),
		Received: rc.when(rec.Received), Finished: rc.when(rec.Finished),
		State: string(rec.State), StateLabel: stateLabel(rc, rec.State),
		User: rec.User, UserName: webcore.OwnerName(idx, rec.User),
		FileName: rec.FileName, CallGUID: rec.CallGUID,
		Direction: dir, DirLabel: directionLabel(rc, dir),
		Size: rc.size(rec.OrigSize), SHA256: hex.EncodeToString(rec.OrigSHA256[:]),
		Truncated: in.Truncated, Damage: in.Damage, Warnings: in.Result.Warnings, Masked: maskedOf(in),
		DownloadURL: api + "/download.zip", OriginalURL: api + "/original.pcap", PageURL: page,
	}
	if in.Name.MAC != "" || in.Name.Serial != "" {
		v.Device = strings.TrimSpace(in.Name.MAC + " " + in.Name.Serial)
	}
	v.Title = webcore.With(rec, in, dir)
	for i, c := range rec.CDRs {
		v.CDRs = append(v.CDRs, cdrView{Heading: rc.T("msg.cdr.heading", i+1), Facts: cdrFacts(rc, c)})
	}
	switch {
	case v.Title != "":
	case v.UserName != "":
		v.Title = rc.T("msg.recordingOf", v.UserName)
	default:
		v.Title = rc.T("msg.recordingNoOwner")
	}

	sel := selectedCall(r, len(in.Result.Calls))
	for i, c := range in.Result.Calls {
		codecs, packets, lost := webcore.CallStats(in, i)
		cv := callView{
			Number: i + 1, URL: page + "?call=" + strconv.Itoa(i+1), Selected: i+1 == sel,
			From: c.From.String(), To: c.To.String(),
			Start: rc.when(c.Start), StartISO: webcore.IsoTime(c.Start),
			Duration: webcore.FormatDuration(c.DurationMs), Codecs: strings.Join(codecs, ", "),
			Packets: packets, Lost: lost, LossPct: rc.lossPercent(packets, lost), SIPCallID: c.CallID,
			Encryption: webcore.Encryption(in, i),
		}
		var digits, inband []string
		for _, d := range c.DTMF {
			if d.InBand {
				inband = append(inband, d.Digit)
			} else {
				digits = append(digits, d.Digit)
			}
		}
		cv.DTMF, cv.DTMFInBand = strings.Join(digits, " "), strings.Join(inband, " ")
		streams := slices.Clone(in.Result.Streams)
		slices.SortStableFunc(streams, func(a, b recinfo.Stream) int { return a.Channel - b.Channel })
		for _, s := range streams {
			if s.Call != i {
				continue
			}
			side := rc.T("msg.side.other")
			switch s.Channel {
			case 0:
				side = rc.T("msg.side.remote")
			case 1:
				side = rc.T("msg.side.local")
			}
			cv.Streams = append(cv.Streams, streamView{
				Side: side, Codec: s.Codec, Src: s.Src, Dst: s.Dst, Packets: s.Packets, Lost: s.Lost,
				LossPct: rc.lossPercent(s.Packets, s.Lost), Jitter: i18n.Number(rc.language(), s.JitterMs, 1) + " ms",
				Unsupported: !s.Supported && !s.Encrypted && s.Codec != "telephone-event",
				Encrypted:   s.Encrypted,
			})
		}
		p.Calls = append(p.Calls, cv)
	}
	if len(p.Calls) > 0 {
		p.Call = &p.Calls[sel-1]
		q := "?call=" + strconv.Itoa(sel)
		v.AudioURL = api + "/audio.wav" + q
		v.MonoURL = api + "/audio.wav" + q + "&channels=mono"
		v.PeaksURL = api + "/peaks" + q + "&n=800"
		v.MonoPeaks = api + "/peaks" + q + "&n=800&channels=mono"
	}
	if p.Call != nil {
		if x := findUndecodable(in, sel-1); x != nil {
			p.Undecodable = x.words(rc)
		}
		p.PauseMarks = pauseMarks(in, sel-1)
	}

	if rec.CallGUID != "" {
		segs, err := u.arc.ByCall(ctx, rec.CallGUID)
		if err != nil {
			return recordingPage{}, err
		}
		var mine []*archive.Recording
		for _, s := range segs {
			if u.opts.FourEyes.MayRead(rc.user, s) {
				mine = append(mine, s)
			}
		}
		if len(mine) > 1 {
			for _, s := range mine {
				p.Segments = append(p.Segments, segmentView{
					URL: "/recordings/" + s.ID.String(), When: rc.when(webcore.RecTime(s)),
					Duration: webcore.FormatDuration(s.DurationMs), Current: s.ID == rec.ID,
				})
			}
			if err := u.wholeCall(r, &p, &v, mine); err != nil {
				return recordingPage{}, err
			}
			if p.WholeCall {
				p.PauseMarks = nil // the waveform is the whole call's; the facts list the pauses
			}
		}
	}
	p.Rec = v

	notes, err := u.arc.Notes(ctx, rec.ID)
	if err != nil {
		return recordingPage{}, err
	}
	for _, n := range notes {
		nv := noteView{
			ID: n.ID, Author: webcore.OwnerName(idx, n.Author), Created: rc.when(n.Created),
			Updated: rc.when(n.Updated), Edited: !n.Updated.IsZero() && !n.Updated.Equal(n.Created),
			Text: n.Text, MayEdit: archive.MayChangeNote(rc.user, &n),
		}
		nv.EditURL = page + "/notes/" + strconv.FormatUint(n.ID, 10)
		nv.DeleteURL = nv.EditURL + "/delete"
		p.Notes = append(p.Notes, nv)
	}

	if s := rec.Seal; s != nil {
		pub := u.arc.PublicKey()
		sv := &sealView2{
			Seq: s.Seq, Time: rc.when(s.Time),
			Orig: hex.EncodeToString(s.OrigSHA256[:]), Map: hex.EncodeToString(s.MapSHA256[:]),
			Meta: hex.EncodeToString(s.MetaSHA256[:]), PrevHash: hex.EncodeToString(s.Prev[:]),
			Signature: hex.EncodeToString(s.Signature), KeyFingerprint: export.KeyFingerprint(pub),
			PublicKey: hex.EncodeToString(pub),
		}
		for _, e := range s.Exports {
			sv.Exports = append(sv.Exports, hex.EncodeToString(e[:]))
		}
		p.Seal = sv
	}
	if _, err := u.arc.CheckPlayback(ctx, rec.ID); err != nil {
		var se *archive.SealError
		switch {
		case errors.As(err, &se):
			p.SealProblem = se.Reason
		case errors.Is(err, archive.ErrCorrupt):
			p.SealProblem = rc.T("msg.metadataNotAuthentic")
		default:
			return recordingPage{}, err
		}
		p.Seal = nil
	}
	p.Life = u.lifecycleView(ctx, rc, rec)
	p.Base = u.base(rc, v.Title, "recordings")
	return p, nil
}

// wholeCall points the player and the download of a call recorded in the
// parts segs at the whole call, and marks where each part begins. A call
// with a part still being recorded, or whose audio this part cannot
// decode, keeps the part's own player.
func (u *UI) wholeCall(r *http.Request, p *recordingPage, v *recView, segs []*archive.Recording) error {
	if p.Undecodable != nil || p.Call == nil {
		return nil
	}
	var starts []int64
	var total int64
	for _, s := range segs {
		if s.State == archive.StateRecording {
			return nil
		}
		starts = append(starts, total)
		if len(recinfo.ParseLenient(s.Info).Result.Calls) == 0 {
			continue
		}
		wav, err := u.media.WAV(r.Context(), []*archive.Recording{s}, -1, codec.WAVOptions{})
		if err != nil {
			// The part's own player still works, or says why not.
			u.log.WarnContext(r.Context(), "whole call: part not rendered", "id", s.ID.String(), "err", err)
			return nil
		}
		// In 8 kHz ticks, whatever the part's rate: stereo, 4 bytes a frame.
		total += (wav.Size() - codec.WAVHeaderSize) / 4 * 8000 / int64(wav.Rate())
	}
	if total == 0 {
		return nil
	}
	call := "/api/v1/calls/" + url.PathEscape(segs[0].CallGUID)
	p.WholeCall = true
	p.CallDuration = webcore.FormatDuration(total / 8)
	p.ThisPartURL = v.DownloadURL
	v.DownloadURL = call + "/download.zip"
	v.AudioURL = call + "/audio.wav"
	v.MonoURL = call + "/audio.wav?channels=mono"
	v.PeaksURL = call + "/peaks?n=800"
	v.MonoPeaks = call + "/peaks?n=800&channels=mono"
	for i := 1; i < len(segs); i++ {
		if starts[i] == 0 || starts[i] >= total {
			continue
		}
		at := float64(starts[i]) / 8000
		p.PartMarks = append(p.PartMarks, partMark{
			Number: i + 1, At: at, Pct: strconv.FormatFloat(100*float64(starts[i])/float64(total), 'f', 3, 64) + "%",
			Start: webcore.FormatDuration(starts[i] / 8), URL: p.Segments[i].URL,
		})
	}
	return nil
}

func (u *UI) recordingVerify(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	rec, err := u.loadRecording(r, rc)
	if err != nil {
		return err
	}
	res, err := u.arc.Verify(r.Context(), rec.ID, func(rec *archive.Recording) ([][32]byte, error) {
		return u.media.Exports(r.Context(), rec)
	})
	if err != nil {
		return err
	}
	u.audit(r, rc, "verify", rec.ID.String(), res.Valid, strings.Join(res.Problems, "; "))
	p, err := u.recordingPage(r, rc, rec)
	if err != nil {
		return err
	}
	p.Verify = &verifyView{Valid: res.Valid, Problems: res.Problems, ExportsPending: res.ExportsPending}
	u.render(w, r, http.StatusOK, "recording.html", p)
	return nil
}
