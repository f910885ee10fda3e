// Package legs resolves a contact centre's call leg to the recordings that
// hold it: the pure logic behind GET /api/v1/legs/{legId}.
//
// A leg id is dialogId:agentExtension:ani:legStartTime (Parse). The
// dialog id is the call id the recordings carry (the conference GUID of
// their file names) or a SIP Call-ID; it may itself hold colons, the
// agent and the caller may not. legStartTime is epoch milliseconds or ISO
// 8601 (RFC 3339, fractions allowed; without a zone it is UTC).
//
// # Numbers
//
// Numbers compare in one normal form (Normalize): visual separators and a
// sip:/tel: URI around them are dropped; +CC… and 00CC… are the same
// international number; with a country code configured, a national number
// 0… is +CC without its 0. Anything else (an extension, a login) compares
// as written, ignoring case.
//
// # Segments, legs and the choice
//
// A Segment is one call of one recording: its time on the wall clock, the
// recorded user (the login of the file name and that user's extensions)
// and its SIP party numbers. Resolve keeps the segments of the agent and
// the caller — a segment is left out only when it names who it is and
// that is someone else, so a capture without SIP (no party numbers) is
// not excluded by the caller — and merges those whose gap is at most
// Options.HoldGap into one leg: a call put on hold and resumed is
// recorded as several segments, and is one leg. The leg whose start is
// closest to legStartTime is chosen, within Options.MaxDistance; ties go
// to the earlier leg.
package legs
