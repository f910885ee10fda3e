// Package share lets people outside the archive listen to recordings an
// admin chose for them, and archive users send each other links.
//
// External links: a grant copies up to 40 recordings' audio into the
// external store (share.db in the data directory, each grant's copies
// sealed under a key of its own), records the grant in the external log
// and queues the link mail in the same transaction. The recipient's page
// (the playback zone, /p/{token}) offers a one-time code mailed to the
// address the link was made for, then the terms of use, then the
// recordings — play, pause, seek, no download control. At expiry (23:59
// of the last day in the appliance's time zone) or on cancel the grant's
// key is destroyed and its copies deleted; the archive is untouched.
//
// The playback zone shares no session, cookie or handler with the UI.
package share
