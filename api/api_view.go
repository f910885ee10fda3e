package api

import (
	"encoding/hex"
	"time"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/internal/webcore"
	"github.com/callvault/callvault/recinfo"
)

// apiCall is a call of the recording-info document as the API shows it:
// the SIP Call-ID always present, the timeline window left out.
type apiCall struct {
	Index      int            `json:"index"`
	CallID     string         `json:"callId"`
	From       recinfo.Party  `json:"from"`
	To         recinfo.Party  `json:"to"`
	Start      time.Time      `json:"start"`
	DurationMs int64          `json:"durationMs"`
	Streams    []int          `json:"streams"`
	DTMF       []recinfo.DTMF `json:"dtmf"`
}

func apiCalls(calls []recinfo.Call) []apiCall {
	out := make([]apiCall, 0, len(calls))
	for _, c := range calls {
		out = append(out, apiCall{
			Index: c.Index, CallID: c.CallID, From: c.From, To: c.To,
			Start: c.Start, DurationMs: c.DurationMs, Streams: c.Streams, DTMF: c.DTMF,
		})
	}
	return out
}

type recordingSummary struct {
	ID         string          `json:"id"`
	CallID     string          `json:"callId,omitempty"`
	SIPCallIDs []string        `json:"sipCallIds,omitempty"`
	State      string          `json:"state"`
	StartTime  time.Time       `json:"startTime"`
	DurationMs int64           `json:"durationMs"`
	User       string          `json:"user,omitempty"`
	Parties    []recinfo.Party `json:"parties"`
	Calls      int             `json:"calls"`
	Sealed     bool            `json:"sealed"`
	FileName   string          `json:"fileName"`
	// Protected is the legal hold; DeletionDate is when the lifecycle job
	// removes the recording (absent when no rule will).
	Protected    bool      `json:"protected"`
	DeletionDate time.Time `json:"deletionDate,omitzero"`
	// Imported: stored by callvault import, not recorded by a phone as
	// the call went on.
	Imported bool `json:"imported,omitempty"`
	// Direction is in, out or internal (a CDR's, else the capture's
	// guess), "" when unknown; CDRs are the call detail records of the
	// call, merged whichever arrived first.
	Direction string   `json:"direction"`
	CDRs      []apiCDR `json:"cdrs"`
}

// apiCDR is a call detail record as the API shows it: the names of
// POST /api/v1/cdr, and received (when the appliance stored it).
type apiCDR struct {
	CallID          string    `json:"callId"`
	Direction       string    `json:"direction,omitempty"`
	CallerNumber    string    `json:"callerNumber,omitempty"`
	CallerName      string    `json:"callerName,omitempty"`
	CalleeNumber    string    `json:"calleeNumber,omitempty"`
	CalleeName      string    `json:"calleeName,omitempty"`
	AccessNumber    string    `json:"accessNumber,omitempty"`
	QueueName       string    `json:"queueName,omitempty"`
	AnswerGroupID   string    `json:"answerGroupId,omitempty"`
	AnswerGroupName string    `json:"answerGroupName,omitempty"`
	AgentID         string    `json:"agentId,omitempty"`
	AgentName       string    `json:"agentName,omitempty"`
	StartTime       time.Time `json:"startTime,omitzero"`
	EndTime         time.Time `json:"endTime,omitzero"`
	WaitTimeMs      *int64    `json:"waitTimeMs,omitempty"`
	TalkTimeMs      *int64    `json:"talkTimeMs,omitempty"`
	ReferredBy      string    `json:"referredBy,omitempty"`
	ReferredTo      string    `json:"referredTo,omitempty"`
	Received        time.Time `json:"received,omitzero"`
}

func apiCDRs(cdrs []archive.CDR) []apiCDR {
	out := make([]apiCDR, 0, len(cdrs))
	for _, c := range cdrs {
		out = append(out, apiCDR{
			CallID: c.CallID, Direction: c.Direction,
			CallerNumber: c.CallerNumber, CallerName: c.CallerName,
			CalleeNumber: c.CalleeNumber, CalleeName: c.CalleeName,
			AccessNumber: c.AccessNumber, QueueName: c.QueueName,
			AnswerGroupID: c.AnswerGroupID, AnswerGroupName: c.AnswerGroupName,
			AgentID: c.AgentID, AgentName: c.AgentName,
			StartTime: c.StartTime, EndTime: c.EndTime,
			WaitTimeMs: c.WaitTimeMs, TalkTimeMs: c.TalkTimeMs,
			ReferredBy: c.ReferredBy, ReferredTo: c.ReferredTo, Received: c.Received,
		})
	}
	return out
}

func summarize(rec *archive.Recording) recordingSummary {
	in := recinfo.ParseLenient(rec.Info)
	s := recordingSummary{
		ID: rec.ID.String(), CallID: rec.CallGUID, State: string(rec.State), StartTime: rec.StartTime,
		DurationMs: rec.DurationMs, User: rec.User, Parties: []recinfo.Party{}, Calls: len(in.Result.Calls),
		Sealed: rec.Seal != nil, FileName: rec.FileName, Protected: rec.Protected, Imported: rec.Imported,
	}
	if s.StartTime.IsZero() {
		s.StartTime = rec.Received
	}
	ids, parties := webcore.Parties(in)
	s.SIPCallIDs = ids
	s.Direction = webcore.Direction(rec, in, nil)
	s.CDRs = apiCDRs(rec.CDRs)
	s.Parties = append(s.Parties, parties...)
	return s
}

type recordingDetail struct {
	recordingSummary
	Received    time.Time        `json:"received"`
	Finished    time.Time        `json:"finished"`
	Size        int64            `json:"size"`
	SHA256      string           `json:"sha256"`
	Gzip        bool             `json:"gzip,omitempty"`
	GzipSHA256  string           `json:"gzipSha256,omitempty"`
	Device      *device          `json:"device,omitempty"`
	CallList    []apiCall        `json:"callList"`
	Streams     []recinfo.Stream `json:"streams"`
	Warnings    []string         `json:"warnings,omitempty"`
	Truncated   bool             `json:"truncated,omitempty"`
	Damage      string           `json:"damage,omitempty"`
	Masking     *recinfo.Masking `json:"masking,omitempty"`
	Seal        *sealView        `json:"seal,omitempty"`
	SealCheck   string           `json:"sealCheck"` // archive.CheckPlayback: sealed, unsealed, recording or failed
	AudioURL    string           `json:"audioUrl"`
	OriginalURL string           `json:"originalUrl"`
	VerifyURL   string           `json:"verifyUrl"`
}

type device struct {
	MAC    string `json:"mac,omitempty"`
	Serial string `json:"serial,omitempty"`
}

type sealView struct {
	Seq     uint64    `json:"seq"`
	Time    time.Time `json:"time"`
	Exports []string  `json:"exports"`
}

func detail(rec *archive.Recording) recordingDetail {
	in := recinfo.ParseLenient(rec.Info)
	base := "/api/v1/recordings/" + rec.ID.String()
	d := recordingDetail{
		recordingSummary: summarize(rec),
		Received:         rec.Received, Finished: rec.Finished, Size: rec.OrigSize,
		SHA256: hex.EncodeToString(rec.OrigSHA256[:]), Gzip: rec.Gzip,
		CallList: apiCalls(in.Result.Calls), Streams: in.Result.Streams, Warnings: in.Result.Warnings,
		Truncated: in.Truncated, Damage: in.Damage, Masking: in.Masking,
		AudioURL: base + "/audio.wav", OriginalURL: base + "/original.pcap", VerifyURL: base + "/verify",
	}
	if d.Streams == nil {
		d.Streams = []recinfo.Stream{}
	}
	if len(rec.GzipSHA256) > 0 {
		d.GzipSHA256 = hex.EncodeToString(rec.GzipSHA256)
	}
	if in.Name.MAC != "" || in.Name.Serial != "" {
		d.Device = &device{MAC: in.Name.MAC, Serial: in.Name.Serial}
	}
	if rec.Seal != nil {
		sv := &sealView{Seq: rec.Seal.Seq, Time: rec.Seal.Time, Exports: []string{}}
		for _, e := range rec.Seal.Exports {
			sv.Exports = append(sv.Exports, hex.EncodeToString(e[:]))
		}
		d.Seal = sv
	}
	return d
}

// apiVerify is what GET /api/v1/recordings/{id}/verify answers: the
// archive's VerifyResult in the API's own names, hashes as hex.
type apiVerify struct {
	Valid    bool     `json:"valid"`
	Problems []string `json:"problems"`
	ID       string   `json:"id"`
	Sealed   bool     `json:"sealed"`
	Chunks   int      `json:"chunks"` // chunks authenticated
	Bytes    int64    `json:"bytes"`  // plaintext bytes authenticated
	// ExportsPending: the export hashes are not sealed yet (they are
	// sealed in a second chain entry after the upload was answered).
	ExportsPending bool `json:"exportsPending"`
}

func recordingVerifyView(res *archive.VerifyResult) apiVerify {
	v := apiVerify{Valid: res.Valid, Problems: res.Problems, ID: res.ID.String(), Sealed: res.Sealed, Chunks: res.Chunks, Bytes: res.Bytes, ExportsPending: res.ExportsPending}
	if v.Problems == nil {
		v.Problems = []string{}
	}
	return v
}
