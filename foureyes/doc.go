// Package foureyes is 4-eyes access: a user (not an admin) whose account
// names a supervisor reads no recording until that supervisor grants it.
// On one daemon (bbolt) the state is runtime only, never stored; one
// [Access] serves the web pages, the JSON API and WebDAV, which bind to
// it.
//
// Who may read a recording is [Access.MayRead]: archive.MayRead, and for a
// user under 4-eyes access a live grant. A user asks ([Access.Request]);
// the supervisor grants, refuses or ends ([Access.Grant], [Access.Refuse],
// [Access.End]) only while one of their pages is connected ([Access.Join]):
// an event stream pinged every 2 s whose page answers each ping
// ([Access.Beat]). When the last page closes ([Access.Leave], after a 2 s
// grace that lets a reload through), stops answering for 6 s, or the
// supervisor logs out ([Access.LoggedOut]), every grant they made ends at
// once: the grant's context is cancelled. [Access.Bind] ties a request to
// that context, so audio and downloads in flight stop, even to a client
// that stopped reading; WebDAV takes Bind as its gate.
//
// Pages follow the state live: [Access.Status] and [Access.Supervision]
// return the state with a channel closed at the next change, and [Events]
// writes it as server-sent events. The pages that show it live in ui, the
// API routes in api.
//
// Requests, grants, refusals and revocations (with their reason, one of
// the Reason constants) are audited as foureyes.request, .grant, .refuse
// and .revoke; no access exists that the audit log does not show (a grant
// whose audit entry fails ends at once). Event streams per login and
// waiting requests per supervisor are bounded.
//
// Several daemons on one archive (archive.Archive.Shared: PostgreSQL)
// share the state, so that a request, a grant and its end work whichever
// daemon a request reaches (shared.go): each daemon mirrors its changes
// into the archive's 4-eyes records (sealed; keyed by keyed hashes) and
// applies the others' as the archive's change feed reports them,
// starting or cancelling the grant's context (Bind follows). A
// supervisor's presence on another daemon is a lease that daemon renews
// at every answered ping ([Options.Lease]); when it lapses by this
// daemon's clock (that daemon died) the grants end here too. The daemons'
// clocks must agree well within the lease. Each event is audited once, by
// the daemon where it happened (a lapse: by the one daemon whose write of
// the ended grant commits).
//
// foureyes imports archive and no other callvault package (deps_test.go).
package foureyes
