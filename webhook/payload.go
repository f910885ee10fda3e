package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"time"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/internal/webcore"
	"github.com/callvault/callvault/recinfo"
)

// Details are what is known of a call beyond its audio. Empty strings and
// nil durations are unknown and sent as null.
type Details struct {
	CallerNumber, CalleeNumber     string
	AgentID, AgentName             string
	AnswerGroupID, AnswerGroupName string
	ReferredTo, ReferredBy         string
	Direction                      string // inbound, outbound, internal
	WaitTimeMs, TalkTimeMs         *int64
}

// RecordingDetails are the details the recordings themselves give: the
// parties of the first call with numbers, the owner as agent, the
// direction from the owner's extensions, the recorded duration as talk
// time.
func (s *Service) RecordingDetails(ctx context.Context, recs []*archive.Recording) Details {
	var d Details
	var talk int64
	for _, r := range recs {
		talk += r.DurationMs
		in := recinfo.ParseLenient(r.Info)
		if d.AgentID == "" && r.User != "" {
			d.AgentID, d.AgentName = r.User, r.User
			if u, err := s.arc.GetUser(ctx, r.User); err == nil {
				if u.Name != "" {
					d.AgentName = u.Name
				}
				switch webcore.CallDirection(in, u) {
				case webcore.DirIn:
					d.Direction = "inbound"
				case webcore.DirOut:
					d.Direction = "outbound"
				}
			}
		}
		for _, c := range in.Result.Calls {
			if d.CallerNumber == "" && d.CalleeNumber == "" && (c.From.Number != "" || c.To.Number != "") {
				d.CallerNumber, d.CalleeNumber = c.From.Number, c.To.Number
			}
		}
	}
	if talk > 0 {
		d.TalkTimeMs = &talk
	}
	return d
}

func (s *Service) details(ctx context.Context, recs []*archive.Recording) Details {
	if s.opt.Details != nil {
		return s.opt.Details(ctx, recs)
	}
	return s.RecordingDetails(ctx, recs)
}

// Body is a delivery's JSON body: the M8Com V2 fields, then callvault's
// own (receivers ignore fields they do not know).
type Body struct {
	ID              int64    `json:"id"`
	FileURLs        []string `json:"fileUrls"`
	CallerNumber    *string  `json:"callerNumber"`
	CalleeNumber    *string  `json:"calleeNumber"`
	StartTime       *int64   `json:"startTime"`
	EndTime         *int64   `json:"endTime"`
	WaitTime        *int64   `json:"waitTime"`
	TalkTime        *int64   `json:"talkTime"`
	AgentID         *string  `json:"agentId"`
	AgentName       *string  `json:"agentName"`
	AnswerGroupName *string  `json:"answerGroupName"`
	AnswerGroupID   *string  `json:"answerGroupId"`
	ReferredTo      *string  `json:"referredTo"`
	ReferredBy      *string  `json:"referredBy"`
	Direction       *string  `json:"direction"`
	RecorderID      string   `json:"recorderId"`
	Summary         *string  `json:"summary"`
	UserID          *string  `json:"userId"`
	RecordingIDs    []string `json:"recordingIds"`
	CallID          string   `json:"callId"`
}

func str(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// CallNumber is the body's id for a call: 53 bits (exact in JSON numbers
// everywhere) of an HMAC of the call id, or of the recording id for a
// recording without one.
func (s *Service) CallNumber(callID string) int64 {
	m := hmac.New(sha256.New, s.idkey)
	m.Write([]byte(callID))
	n := int64(binary.BigEndian.Uint64(m.Sum(nil)) & (1<<53 - 1))
	if n == 0 {
		n = 1
	}
	return n
}

func (s *Service) payload(ctx context.Context, recs []*archive.Recording, d Details, now time.Time) *Body {
	b := &Body{
		CallerNumber: str(d.CallerNumber), CalleeNumber: str(d.CalleeNumber),
		WaitTime: d.WaitTimeMs, TalkTime: d.TalkTimeMs,
		AgentID: str(d.AgentID), AgentName: str(d.AgentName),
		AnswerGroupName: str(d.AnswerGroupName), AnswerGroupID: str(d.AnswerGroupID),
		ReferredTo: str(d.ReferredTo), ReferredBy: str(d.ReferredBy), Direction: str(d.Direction),
		RecorderID: s.opt.RecorderID, FileURLs: []string{}, RecordingIDs: []string{},
	}
	var start, end time.Time
	for _, r := range recs {
		t := webcore.RecTime(r)
		if start.IsZero() || t.Before(start) {
			start = t
		}
		if e := t.Add(time.Duration(r.DurationMs) * time.Millisecond); e.After(end) {
			end = e
		}
		b.RecordingIDs = append(b.RecordingIDs, r.ID.String())
		b.FileURLs = append(b.FileURLs, s.FileURL(r.ID, now))
		if b.UserID == nil && r.User != "" {
			b.UserID = str(r.User)
		}
		if b.CallID == "" {
			b.CallID = r.CallGUID
		}
	}
	key := b.CallID
	if key == "" && len(recs) > 0 {
		key = "recording " + recs[0].ID.String()
	}
	b.ID = s.CallNumber(key)
	if !start.IsZero() {
		ms, me := start.UnixMilli(), end.UnixMilli()
		b.StartTime, b.EndTime = &ms, &me
	}

	return b
}
