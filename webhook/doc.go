// Package webhook tells outside systems (a contact centre, a CRM) that a
// call's recording is complete: each matching webhook gets a signed POST
// with the call's details in the M8Com V2 shape and links to its audio.
//
// # When a call is complete
//
// A call is complete when one of its recordings is finished (complete or
// interrupted) and no recording of the same call id is still recording.
// A recording without a call id is a call of its own. Whether a call has
// just ended is decided by the appliance's clock only, never by the times
// inside its capture (a phone's clock may say 1970 or be days off): a
// recording counts from when the appliance received and finished it. An
// import that keeps its calls' own time (callvault import
// --keep-call-time) of a call more than two days before it was stored is
// not announced; an import that keeps no call time counts as received at
// the import, as it does for retention, and is announced like any call.
// Each such finish is
// an event: a call whose segments arrive one after the other (hold, a
// transfer) may produce more than one delivery, each naming every
// recording of the call known at the time of the attempt; the body's id
// (a number derived from the call id) is the same in all of them.
//
// The recorder reports every finished recording (Service.Completed); at
// start and every hour the service also scans the recordings that
// finished since its persistent cursor (recordings the appliance received
// at most two days before it, archive.ListReceived), so
// a crash between the archive's commit and the outbox's loses nothing.
// The outbox keeps which recordings it has handled, so nothing is queued
// twice.
//
// # Filters
//
// A webhook takes all users or the listed logins (the recording's owner),
// and all answer groups or the listed answer group ids. The answer group
// is read from the call's details (Details.AnswerGroupID: the call's CDRs,
// see RecordingDetails); while a call's details name no answer group, the
// answer group filter does not apply to it and only the user filter
// decides. Filters are applied when the delivery is queued: a CDR that
// arrives later fills the body of later attempts but does not change who
// got the call.
//
// # Delivery
//
// Deliveries wait in the outbox (webhooks.db beside the archive) until a
// 2xx answer. Each webhook's deliveries go out one at a time, oldest
// first; up to eight webhooks are served at once, so a slow endpoint holds
// up only itself. Every attempt is a POST of a fresh body — fresh file links,
// the details as they are now — with
//
//	Content-Type: application/json
//	Authorization: Bearer <secret>
//	webhook-id: msg_<delivery id>        (the same on every retry)
//	webhook-timestamp: <unix seconds>
//	webhook-signature: v1,<base64 HMAC-SHA256(key, id + "." + timestamp + "." + body)>
//
// as Standard Webhooks (standardwebhooks.com) define them. The HMAC key
// is the secret's bytes: a secret of the form "whsec_<base64>" signs with
// the base64-decoded bytes, as Standard Webhooks libraries expect; any
// other secret signs with its UTF-8 bytes. The Bearer header carries the
// secret as written.
//
// Anything but a 2xx answer is a failure, redirects included (they are
// not followed). A failed delivery is tried again after an exponential
// back-off (30 s doubling up to 6 h, ±20 % jitter; a later Retry-After is
// honoured, up to 6 h) until two days after its first attempt; then it is
// dropped and the webhook disabled with the reason. 410 Gone disables the
// webhook at once. While a webhook is disabled its queued deliveries wait
// and new calls queue nothing for it; re-enabling it (the secret is kept)
// gives the waiting deliveries a fresh two days. Every attempt is kept
// (the last 200 per webhook): time, outcome, answer code.
//
// # Where requests may go
//
// The endpoint must be https unless its host is listed in the config's
// allowed HTTP hosts. The dialer checks every address it connects to —
// after name resolution, so DNS rebinding cannot get around it — and
// refuses loopback, private, link-local, unspecified, multicast and
// shared (100.64.0.0/10) addresses, also as IPv4-mapped or NAT64
// (64:ff9b::/96) IPv6 addresses, unless the config allows private
// addresses. Each attempt is bounded by a timeout (default 30 s).
//
// # File links
//
// fileUrls holds one link per recording of the call:
// {base}/hooks/files/{token}.wav, where the token names the recording and
// an expiry 30 minutes after the attempt and carries an HMAC-SHA256 of
// both under a key derived from the archive's master key. The link
// serves the recording's stereo WAV with Range, without a login, until
// it expires. Nothing is stored for a link. As at every other door, the
// recording's seal is checked first (archive.CheckPlayback): a seal that
// does not verify is answered 500 with the API's message and audited as
// integrity.fail, and nothing is served; the Callvault-Seal header says
// "sealed" or "unsealed". Each fetch whose answer may carry the WAV's
// first byte is audited as a play — decided from the Range header as
// http.ServeContent reads it (package byterange), and whenever in doubt;
// a player's later pieces are not. A Range header naming more than 16
// ranges is refused with 416 before anything is read (its multipart
// answer could be many times the file).
//
// # The store
//
// webhooks.db is a bbolt file of its own (the outbox churns, and its
// configuration and attempts can be dropped without touching the sealed
// archive). Webhooks (URL, secret, filters), queued deliveries and
// attempts are sealed with AES-256-GCM under the key
// archive.DerivedKey("webhooks"), each value's AD binding its bucket and
// key; only recording ids (random), webhook ids and times are plain.
// File links are signed under DerivedKey("webhooks files"), and the body's
// call number is an HMAC under DerivedKey("webhooks call number").
// A backup (archive.WriteBackup through BackupSnapshot) carries the file
// after the archive's, and restore puts it back beside it.
package webhook
