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
	// StartTime and EndTime are the call's, when known from its details
	// (zero: the recordings' times are sent).
	StartTime, EndTime time.Time
}

// RecordingDetails are the details the recordings give: their call
// detail records (from the PBX or contact centre) first, then what the
// captures tell — the parties of the first call with numbers, the owner
// as agent, the direction from the owner's extensions, the recorded
// duration as talk time. Of several CDRs (legs, transfers), in the
// archive's order (start time, then arrival), the first that has a field
// gives it; the start is the earliest, the end the latest.
func (s *Service) RecordingDetails(ctx context.Context, recs []*archive.Recording) Details {
	d := s.captureDetails(ctx, recs)
	seen := map[archive.CDR]bool{}
	var c Details
	for _, r := range recs {
		for _, x := range r.CDRs {
			k := x
			k.WaitTimeMs, k.TalkTimeMs = nil, nil
			if seen[k] {
				continue // each recording of the call carries the call's CDRs
			}
			seen[k] = true
			first := func(dst *string, v string) {
				if *dst == "" {
					*dst = v
				}
			}
			first(&c.CallerNumber, x.CallerNumber)
			first(&c.CalleeNumber, x.CalleeNumber)
			first(&c.AgentID, x.AgentID)
			first(&c.AgentName, x.AgentName)
			first(&c.AnswerGroupID, x.AnswerGroupID)
			first(&c.AnswerGroupName, x.AnswerGroupName)
			first(&c.ReferredTo, x.ReferredTo)
			first(&c.ReferredBy, x.ReferredBy)
			first(&c.Direction, x.Direction)
			if c.WaitTimeMs == nil && x.WaitTimeMs != nil {
				v := *x.WaitTimeMs
				c.WaitTimeMs = &v
			}
			if x.TalkTimeMs != nil {
				v := *x.TalkTimeMs
				if c.TalkTimeMs != nil {
					v += *c.TalkTimeMs
				}
				c.TalkTimeMs = &v
			}
			if !x.StartTime.IsZero() && (c.StartTime.IsZero() || x.StartTime.Before(c.StartTime)) {
				c.StartTime = x.StartTime
			}
			if x.EndTime.After(c.EndTime) {
				c.EndTime = x.EndTime
			}
		}
	}
	or := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	or(&d.CallerNumber, c.CallerNumber)
	or(&d.CalleeNumber, c.CalleeNumber)
	// The agent is the CDR's when it names one; else the owner.
	if c.AgentID != "" || c.AgentName != "" {
		d.AgentID, d.AgentName = c.AgentID, c.AgentName
	}
	or(&d.AnswerGroupID, c.AnswerGroupID)
	or(&d.AnswerGroupName, c.AnswerGroupName)
	or(&d.ReferredTo, c.ReferredTo)
	or(&d.ReferredBy, c.ReferredBy)
	or(&d.Direction, c.Direction)
	if c.WaitTimeMs != nil {
		d.WaitTimeMs = c.WaitTimeMs
	}
	if c.TalkTimeMs != nil {
		d.TalkTimeMs = c.TalkTimeMs
	}
	d.StartTime, d.EndTime = c.StartTime, c.EndTime
	return d
}

// captureDetails are the details the captures and their owner give.
func (s *Service) captureDetails(ctx context.Context, recs []*archive.Recording) Details {
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
	if !d.StartTime.IsZero() {
		start = d.StartTime
		if !d.EndTime.IsZero() {
			end = d.EndTime
		} else if end.Before(start) {
			end = start
		}
	}
	if !start.IsZero() {
		ms, me := start.UnixMilli(), end.UnixMilli()
		b.StartTime, b.EndTime = &ms, &me
	}

	return b
}
