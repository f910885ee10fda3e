package webcore

import (
	"strconv"
	"strings"
	"time"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/recinfo"
)

// DirInternal is a call between two extensions, as a CDR says.
const DirInternal = "internal"

// The details of a call merge two sources: the capture (recinfo: SIP
// parties, Call-IDs) and the call detail records the PBX or contact
// centre sent (rec.CDRs, merged by the archive whichever arrived first).
// Where both speak, the CDR wins: it is the PBX's own account of the call.
// Every view (list, page, PDF, API) reads the direction and the other
// party through Direction and With.

// Direction is the call's direction seen from the recording's owner: the
// first CDR that states one (inbound → in, outbound → out, internal),
// else the guess from the owner's extensions (CallDirection).
func Direction(rec *archive.Recording, in *recinfo.Info, owner *archive.User) string {
	for _, c := range rec.CDRs {
		switch c.Direction {
		case archive.CDRInbound:
			return DirIn
		case archive.CDROutbound:
			return DirOut
		case archive.CDRInternal:
			return DirInternal
		}
	}
	return CallDirection(in, owner)
}

// With is the other party of the call for the list and titles: from the
// CDRs when there are any (the caller of an inbound call, the callee of
// an outbound one, both otherwise), else from the capture (RemoteParty).
func With(rec *archive.Recording, in *recinfo.Info, dir string) string {
	var parts []string
	for _, c := range rec.CDRs {
		caller, callee := cdrParty(c.CallerName, c.CallerNumber), cdrParty(c.CalleeName, c.CalleeNumber)
		var p string
		switch {
		case dir == DirIn && caller != "":
			p = caller
		case dir == DirOut && callee != "":
			p = callee
		case caller != "" && callee != "":
			p = caller + " → " + callee
		default:
			p = caller + callee
		}
		if p != "" && !containsString(parts, p) {
			parts = append(parts, p)
		}
	}
	if len(parts) > 0 {
		return strings.Join(parts, "; ")
	}
	return RemoteParty(in, dir)
}

func containsString(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// cdrParty shows a name and number as recinfo.Party does.
func cdrParty(name, number string) string {
	return recinfo.Party{Name: name, Number: number}.String()
}

// CDRFacts lists a CDR's details as label and value, in the words of the
// pages, leaving out what it does not say.
func CDRFacts(c archive.CDR, loc *time.Location) [][2]string {
	var out [][2]string
	add := func(k, v string) {
		if v != "" {
			out = append(out, [2]string{k, v})
		}
	}
	dir := ""
	switch c.Direction {
	case archive.CDRInbound:
		dir = "Inbound"
	case archive.CDROutbound:
		dir = "Outbound"
	case archive.CDRInternal:
		dir = "Internal"
	}
	add("Direction", dir)
	add("Caller", cdrParty(c.CallerName, c.CallerNumber))
	add("Callee", cdrParty(c.CalleeName, c.CalleeNumber))
	add("Access number", c.AccessNumber)
	add("Queue", c.QueueName)
	add("Answer group", cdrParty(c.AnswerGroupName, c.AnswerGroupID))
	add("Agent", cdrParty(c.AgentName, c.AgentID))
	add("Start", FormatTime(c.StartTime, loc))
	add("End", FormatTime(c.EndTime, loc))
	if c.WaitTimeMs != nil {
		add("Wait time", FormatDuration(*c.WaitTimeMs))
	}
	if c.TalkTimeMs != nil {
		add("Talk time", FormatDuration(*c.TalkTimeMs))
	}
	add("Referred by", c.ReferredBy)
	add("Referred to", c.ReferredTo)
	add("Call id", c.CallID)
	return out
}

// CDRHeading names the i-th CDR (from 0) of a recording.
func CDRHeading(i int) string { return "Call details " + strconv.Itoa(i+1) }
