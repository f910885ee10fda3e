// Package ui serves the appliance's people-facing side over HTTP: the JSON
// API under /api/v1 ([API]) and the server-rendered web pages ([UI]). It
// reads and changes the archive only through archive's API and never
// touches storage or keys.
//
// # Web pages
//
// Pages are html/template files embedded in the binary, one typed view
// model each, rendered into a buffer before anything is written. The
// static assets are embedded too and served under a content hash as
// immutable: a stylesheet and a script for every page (app.css, app.js)
// and a pair for the 4-eyes waiting and supervisor pages (foureyes.css,
// foureyes.js). Every response carries a strict
// Content-Security-Policy (no inline script or style, no framing); every
// state change is a POST through http.CrossOriginProtection, with its body
// bounded. Sessions are server-side (archive.CreateSession): the cookie is
// HttpOnly, SameSite=Lax and, under TLS, Secure with the __Host- prefix.
// Failed logins are counted per client address and per login, in bounded
// memory, and refused for a while past a limit.
//
// # Access
//
// Who may read a recording is foureyes.Access.MayRead: archive.MayRead,
// and for a user under 4-eyes access an active grant, for pages, API,
// audio, peaks, downloads and WebDAV alike; a recording one may not read
// is "not found". The API accepts the web session cookie (cross-origin
// checked), HTTP Basic and Bearer tokens.
//
// # 4-eyes access
//
// The state, its rule and its timers live in package foureyes (see its
// doc); ui holds its pages and routes (foureyes_http.go). A user (not an
// admin) whose account names a supervisor sees the waiting page instead
// of recordings; its script asks for access (POST /foureyes/request) and
// listens for the answer on a server-sent event stream
// (/foureyes/events). The request appears live on the supervisor's page
// (/supervise), whose own stream (/supervise/events) is pinged and
// answered by the page (POST /supervise/heartbeat); the supervisor
// answers with POST /supervise/{login}/grant, …/refuse and …/end. When a
// grant ends, the user's pages stop the player and say so. The API shows
// the state at GET /api/v1/foureyes, asks with POST
// /api/v1/foureyes/request, and answers 403 to a user without a grant;
// API responses are bound to the grant (foureyes.Access.Bind), so audio
// and downloads in flight stop when it ends. Logging out ends the grants
// a supervisor made.
//
// # Playback
//
// Audio, peaks, downloads and originals are served only after the
// recording's seal is checked (archive.CheckPlayback): a seal that does not
// hold is a 500 saying the recording failed its integrity check, written
// to the audit log as integrity.fail; a finished recording not sealed yet
// is served and marked "unsealed" (header Callvault-Seal, and its page). A
// stored chunk that fails authentication is a 500 when it is the first one
// asked for, and resets the connection when it comes later, so the player
// shows an error and the page stops calling the recording sealed. Audio
// and peaks answer 409 while a recording is being recorded and 422 when it
// holds no call. A "play" is audited once per listening session: per login
// and recording (and call), until 10 minutes pass without an audio
// request; the page loads no audio until Play is pressed.
//
// # Audit log
//
// The admin page shows actions in words, links entries to the recording
// they name, shows sources without the port, and downloads the filtered
// view as CSV (/admin/audit.csv, GET /api/v1/audit?format=csv), cells a
// spreadsheet would run quoted; each export is audited as audit.export.
//
// # Downloads
//
// GET /api/v1/recordings/{id}/download.zip gathers the recording, its
// audio, notes and settings from the archive, audits the download and
// streams the zip the export package writes: the canonical stereo WAV of
// each call (whose sha256 the seal signs), call-info.pdf, seal.json and
// the appliance's public key; export.VerifyZip checks such a zip offline.
package ui
