// Package ui serves the appliance's people-facing side over HTTP: the JSON
// API under /api/v1 ([API]) and the server-rendered web pages ([UI]). It
// reads and changes the archive only through archive's API and never
// touches storage or keys.
//
// # Web pages
//
// Pages are html/template files embedded in the binary, one typed view
// model each, rendered into a buffer before anything is written. The one
// stylesheet and the one script are embedded too and served under a
// content hash as immutable. Every response carries a strict
// Content-Security-Policy (no inline script or style, no framing); every
// state change is a POST through http.CrossOriginProtection, with its body
// bounded. Sessions are server-side (archive.CreateSession): the cookie is
// HttpOnly, SameSite=Lax and, under TLS, Secure with the __Host- prefix.
// Failed logins are counted per client address and per login, in bounded
// memory, and refused for a while past a limit.
//
// # Access
//
// Who may read a recording is archive.MayRead, for pages, API, audio,
// peaks and downloads alike; a recording one may not read is "not found".
// The API accepts the web session cookie (cross-origin checked), HTTP
// Basic and Bearer tokens.
//
// # Downloads
//
// GET /api/v1/recordings/{id}/download.zip holds the canonical stereo WAV
// of each call (whose sha256 the seal signs), call-info.pdf, seal.json and
// the appliance's public key; [VerifyZip] checks such a zip offline.
package ui
