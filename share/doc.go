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
//
// # The external store
//
// share.db is a bbolt file of its own: only archive and share keep a
// store. Its keys come from the archive's master key
// (archive.DerivedKey), so the file alone reveals nothing:
//
//   - "share grant wrap" wraps each grant's random 32-byte key
//     (AES-256-GCM, AD binding the grant id). A grant's stereo WAV copies
//     are stored in 64 KiB chunks, each sealed under the grant key with a
//     nonce made of the recording's index and the chunk's index (each
//     pair is sealed once per key) and AD binding grant, recording and
//     chunk, so a Range request decrypts only the chunks it needs. The
//     call details kept (start, duration, and the access number and queue
//     name only when the sender ticked them) are sealed under the grant
//     key too. Destroying a grant deletes its wrapped key, its details
//     and every chunk in one transaction.
//   - "share log" seals the log entries (recipient, sender, reason,
//     recordings, dates, status), the links (recipient's address and
//     code state), internal links, queued mail and the configuration.
//     Log entries outlive the copies.
//   - "share code" is the HMAC key of one-time codes (HMAC of link and
//     code, compared in constant time) and of the address index that
//     finds a recipient's link.
//
// Link and session tokens are 192 random bits; the store keeps only their
// SHA-256. One link per recipient address: a later grant to the same
// address joins it (its mail names a fresh token of the same link).
//
// # Codes
//
// Six digits, valid ten minutes, one active code per link (a new one
// voids the old), five wrong entries per code, three codes an hour and
// ten a day per link, and per client address twenty code requests and
// thirty wrong codes an hour. The code mail is queued in the transaction
// that stores the code, to the link's address only, and is dropped if
// still queued when the code expires. POST /api/code answers the same
// whether or not a mail went out.
//
// # Mail
//
// The service is the mail queue (mail.Queue): mail is stored sealed until
// it is sent, then only its metadata stays. In outbox mode (no SMTP
// server) mail is kept for admins with codes masked and never sent.
package share
