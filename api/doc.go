// Package api serves the JSON API under /api/v1 ([API]), described by
// openapi.yaml beside it (a test checks every route against it, both
// ways). One [API.Routes] mounts every route; one error mapping (wrap)
// authenticates the caller and turns a handler's error into a status and
// a message safe to show, the detail going to the log only. It reads and
// changes the archive only through archive's API and never touches
// storage or keys. api and the web pages (package ui) do not import each
// other: what they present alike lives in internal/webcore, the session
// cookie in internal/websession. Secure links are sent, listed and
// cancelled through package share ([API.SetShares]); its refusals
// (*share.Error) keep their status and message in wrap.
//
// # Access
//
// The API accepts the web session cookie (cross-origin checked for
// anything but GET, HEAD and OPTIONS), HTTP Basic and Bearer tokens;
// ingest accounts read nothing. Who may read a recording is
// foureyes.Access.MayRead: archive.MayRead, and for a user under 4-eyes
// access an active grant; a recording one may not read is "not found".
// Failed Basic logins are limited like the login form's (429 with
// Retry-After).
//
// # Errors shown to people
//
// Errors are JSON ({"error": "..."}) for API clients and the pages'
// scripts. A person's browser that navigates to an API address (a
// download link clicked, Sec-Fetch-Mode: navigate; without fetch
// metadata, an Accept that takes text/html but not application/json) gets
// the same status with a short HTML page in plain words and a link home
// instead (errpage.go), never JSON or internal detail.
//
// # 4-eyes access
//
// GET /api/v1/foureyes shows the caller's state (and a supervisor's
// waiting requests and grants), POST /api/v1/foureyes/request asks, and a
// user without a grant gets 403. Responses are bound to the grant
// (foureyes.Access.Bind), so audio and downloads in flight stop when it
// ends.
//
// # Playback
//
// Audio, peaks, downloads and originals are served only after the
// recording's seal is checked (archive.CheckPlayback): a seal that does not
// hold is a 500 saying the recording failed its integrity check, written
// to the audit log as integrity.fail; a finished recording not sealed yet
// is served and marked "unsealed" (header Callvault-Seal). A stored chunk
// that fails authentication is a 500 when it is the first one asked for,
// and resets the connection when it comes later, so the player shows an
// error. Audio and peaks answer 409 while a recording is being recorded
// and 422 when it holds no call. A "play" is audited once per listening
// session: per login and recording (and call), until 10 minutes pass
// without an audio request.
//
// # Call legs
//
// GET /api/v1/legs/{legId} resolves a contact centre's leg id
// (dialogId:agentExtension:ani:legStartTime, package legs) against the
// dialog's recordings the caller may read — by call id, else by SIP
// Call-ID through the search index — and lists the chosen leg's segments
// and every candidate; …/audio.wav serves the leg as one WAV, built from
// the media's codec segments (webcore.Segmenter) with each hold between
// them as silence. No leg within the configured distance is a 404 that
// lists the candidates; a dialog the caller may not read is a plain 404.
//
// # Downloads
//
// GET /api/v1/recordings/{id}/download.zip gathers the recording, its
// audio, notes and settings from the archive, audits the download and
// streams the zip the export package writes: the canonical stereo WAV of
// each call (whose sha256 the seal signs), call-info.pdf, seal.json and
// the appliance's public key; export.VerifyZip checks such a zip offline.
package api
