package webcore

import (
	"strings"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/recinfo"
)

// Parties returns the SIP Call-IDs of in's calls and their distinct
// parties (those with a name or a number), in order of appearance.
func Parties(in *recinfo.Info) (sipCallIDs []string, parties []recinfo.Party) {
	seen := map[recinfo.Party]bool{}
	for _, c := range in.Result.Calls {
		if c.CallID != "" {
			sipCallIDs = append(sipCallIDs, c.CallID)
		}
		for _, p := range []recinfo.Party{c.From, c.To} {
			if (p.Name != "" || p.Number != "") && !seen[p] {
				seen[p] = true
				parties = append(parties, p)
			}
		}
	}
	return sipCallIDs, parties
}

// Matches reports whether the lower-case search text q occurs in rec's
// owner, file name, call id, SIP Call-IDs, or its parties' names and
// numbers (one per line, so q matches within one of them unless it holds
// a line break).
func Matches(rec *archive.Recording, q string) bool {
	ids, parties := Parties(recinfo.ParseLenient(rec.Info))
	var b strings.Builder
	for _, t := range append([]string{rec.User, rec.FileName, rec.CallGUID}, ids...) {
		b.WriteString(t)
		b.WriteByte('\n')
	}
	for _, p := range parties {
		b.WriteString(p.Name + "\n" + p.Number + "\n")
	}
	for _, c := range rec.CDRs { // the fields the archive's search index holds
		for _, s := range []string{c.CallerNumber, c.CallerName, c.CalleeNumber, c.CalleeName, c.AccessNumber, c.QueueName,
			c.AnswerGroupID, c.AnswerGroupName, c.AgentID, c.AgentName, c.ReferredBy, c.ReferredTo} {
			b.WriteString(s + "\n")
		}
	}
	return strings.Contains(strings.ToLower(b.String()), q)
}

// searchText is the archive's Text for the search text q: q itself,
// whose matches the archive finds by field (a superset of what
// Matches matches), or "" for a q with a line break, which can match
// across fields of the summary text and so is left to Match alone.
func SearchText(q string) string {
	if strings.Contains(q, "\n") {
		return ""
	}
	return q
}
