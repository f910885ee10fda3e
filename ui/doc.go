// Package ui serves the appliance's server-rendered web pages ([UI]): the
// login form, the recording list and page with player and notes, the
// account page, the recycle bin, the 4-eyes waiting and supervision pages,
// and the admin pages (users, audit log, settings). The JSON API under
// /api/v1 is package api; ui and api do not import each other. What both
// present alike (the words of a recording, lifecycle refusals and dates,
// search, the audit CSV, the call-info document, the Media interface)
// lives in internal/webcore, the session cookie in internal/websession.
// ui reads and changes the archive only through archive's API and never
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
// bounded. Sessions are server-side (archive.CreateSession): the cookie
// (internal/websession) is HttpOnly, SameSite=Lax and, under TLS, Secure
// with the __Host- prefix; the JSON API accepts it. Failed logins are
// counted per client address and per login, in bounded memory, and
// refused for a while past a limit.
//
// # Access
//
// Who may read a recording is foureyes.Access.MayRead: archive.MayRead,
// and for a user under 4-eyes access an active grant, for pages, API,
// audio, peaks, downloads and WebDAV alike; a recording one may not read
// is "not found".
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
// grant ends, the user's pages stop the player and say so. Logging out
// ends the grants a supervisor made.
//
// # Playback
//
// The recording page shows what the seal check finds (sealed, "Not sealed
// yet", or "Seal check failed" with the reason) and loads no audio until
// Play is pressed; the player, the waveform and the download link fetch
// audio, peaks and the zip from the JSON API (see package api), whose
// errors the page's script shows.
//
// # Audit log
//
// The admin page shows actions in words, links entries to the recording
// they name, shows sources without the port, and downloads the filtered
// view as CSV (/admin/audit.csv; the API's GET /api/v1/audit?format=csv
// writes the same CSV), cells a spreadsheet would run quoted; each export
// is audited as audit.export.
package ui
