// Package webdav serves the archive's originals read-only over WebDAV and
// makes the ingest URL family answer the WebDAV probes of recording devices.
//
// It owns the /webdav/ tree — originals by UTC date (2026/11/21/<name>.pcap)
// and by user (users/<login>/2026/11/21/<name>.pcap) — built on
// github.com/emersion/go-webdav with a read-only FileSystem over archive,
// its names (the upload's name, sanitised, with the first 8 hex digits of
// the recording ID: unique and stable), HTTP Basic authentication with the
// account password or a WebDAV-specific one, the access rule
// archive.MayRead (narrowed by Options.Gate: 4-eyes access answers 403
// until the user's supervisor grants access, and ends downloads in flight
// when the grant ends), and the audit record of every file fetched. It never
// touches bbolt or keys, and does not import recorder: cmd hands the
// recorder's PUT handler to IngestCollection.
//
// # The tree
//
// Collections list only what the caller may read: a date collection exists
// when it holds such a recording; users/ lists, for admins, every account
// that can own recordings plus _unassigned (recordings without a user, or
// whose user has no account), and for others their own login and the
// accounts on their access list. Recordings still being uploaded are not
// shown. Sizes, modification times (when the recording was finished) and
// ETags (the original's sha256) come from the metadata, so PROPFIND decrypts
// no audio. Listing a day reads that day's recordings only; listing years,
// months and days asks the archive for the newest match below a bound, one
// step per unit. Listings are cached per user for a few seconds; a file's
// GET, HEAD and PROPFIND load its recording afresh and ask archive.MayRead
// again, so a recording binned or no longer readable is gone at once.
//
// # Methods
//
// OPTIONS (without credentials), PROPFIND with Depth 0 or 1 (infinity is
// refused with 403 DAV:propfind-finite-depth), GET with Range straight from
// the encrypted chunks, and HEAD. PUT, DELETE, MKCOL, COPY, MOVE and
// PROPPATCH answer 403 (read-only archive); LOCK and UNLOCK are not offered
// (405, and no DAV class 2), so clients mount the tree read-only. A GET of a
// collection gives a small HTML index for browsers.
//
// # Integrity
//
// Before a file is served its seal is checked (archive.CheckPlayback), and
// the first piece asked for is read; either failing is a 500 and an
// integrity.fail audit entry. A chunk that fails authentication later,
// after the status and length are sent, resets the connection, so a client
// sees a failed transfer rather than a short file.
package webdav
