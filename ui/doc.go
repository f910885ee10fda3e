// Package ui serves the appliance's server-rendered web pages ([UI]): the
// login form, the recording list and page with player and notes, the
// account page, the recycle bin, the 4-eyes waiting and supervision pages,
// the pages of secure links, and the admin pages (users, audit log,
// settings, outbox). The JSON API under
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
// grant ends, the user's pages stop the player and say so, and a
// response in flight of a page that shows recordings (held: the list, a
// recording, its verification, the bulk zip) is cut, as the API's are
// (foureyes.Access.Bind). Logging out ends the grants a supervisor made.
//
// # Playback
//
// The recording page shows what the seal check finds (sealed, "Not sealed
// yet", or "Seal check failed" with the reason) and loads no audio until
// Play is pressed; the player, the waveform and the download link fetch
// audio, peaks and the zip from the JSON API (see package api), whose
// errors the page's script shows.
//
// # Secure links
//
// Package share keeps the external store, the log of links and the mail
// queue; ui holds its pages (share*.go), mounted when Options.Shares is
// set. Users who may send links (and admins) select rows on the
// recordings list — a form of checkboxes that submits ?r=id&r=id by GET,
// so it works without script; the script adds "select all" and a count —
// and send them to an external recipient (/share/new) or to an archive
// user with an email address (/share/internal), at most
// share.MaxRecordings at once. The external form shows the link's end,
// 23:59 of the last day in the appliance's zone. An internal link
// (/links/{id}) shows its recipient, and nobody else, the recordings they
// may read, each linking to its usual page. The External access page
// (/external; admins and users who may see it) is the log with search,
// status filter and cancel (asked to confirm); its config tab
// (/external/config, a multipart form for the logo) and the outbox
// (/admin/outbox, one-time codes masked by share) are for admins.
//
// # Languages
//
// The pages speak English and German (i18n.go). A person's language is
// the one chosen on the account page (stored with the user, archive.User
// Language), else the best their browser asks for (Accept-Language,
// parsed by internal/i18n as the playback page parses it), else English.
// Every text is a key of text.json with its English and German text;
// templates are parsed once per language with t/th bound to it, scripts
// read their texts ("js." keys) from a JSON block of the layout. New
// refuses to start when a template or script uses a key some language
// lacks, or text.json holds a key nothing uses; TestTextKeysOfGo does the
// same for the keys of the Go code ("msg."), and
// TestTemplatesHaveNoRawText keeps words out of the templates. Dates and
// numbers are written the language's way (6.12.2026 14:03:05, 1.234,5).
// The JSON API stays English. Content recorded in English — the audit
// log's details and targets — is marked lang="en" on German pages.
//
// # Audit log
//
// The admin page shows actions in words, links entries to the recording
// they name, shows sources without the port, and downloads the filtered
// view as CSV (/admin/audit.csv; the API's GET /api/v1/audit?format=csv
// writes the same CSV), cells a spreadsheet would run quoted; each export
// is audited as audit.export.
package ui
