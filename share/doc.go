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
//     (AES-256-GCM, AD binding the grant id); the wrapped key lives in a
//     slot of share.db.gkeys (see "Format"). A grant's stereo WAV copies
//     are stored in 64 KiB chunks, each sealed under the grant key with a
//     nonce made of the recording's index and the chunk's index (each
//     pair is sealed once per key) and AD binding grant, recording and
//     chunk, so a Range request decrypts only the chunks it needs. The
//     call details kept (start, duration, and the access number and queue
//     name only when the sender ticked them) are sealed under the grant
//     key too. Destroying a grant deletes its key's slot reference, its
//     details and every chunk in one transaction, then zeroes the key's
//     slot.
//   - "share log" seals the log entries (recipient, sender, reason,
//     recordings, dates, status), the links (recipient's address and
//     code state), internal links, queued mail and the configuration.
//     Log entries outlive the copies.
//   - "share code" is the HMAC key of one-time codes (HMAC of link and
//     code, compared in constant time), of the address index that finds
//     a recipient's link, and of the client addresses a link's record
//     names (whose code is whose, and where it was opened).
//
// Link and session tokens are 192 random bits; the store keeps only their
// SHA-256. One link per recipient address: a later grant to the same
// address joins it (its mail names a fresh token of the same link).
//
// # Format
//
// bbolt never overwrites a page in place: a changed page is written
// elsewhere and the old one becomes a free page whose bytes stay in the
// file, and in every copy of it, until a later commit reuses it. A
// wrapped grant key deleted from a bucket would survive its grant, and a
// copy of share.db taken after the expiry, with the archive key, would
// unwrap it and decrypt the chunks still lying in free pages. So grant
// keys live in a second file, share.db.gkeys (KeyFile), of fixed 128-byte
// slots that are overwritten in place:
//
//	slot 0:     "callvault share grant-key slots\0\x01" ‖ zeros (header)
//	slot n ≥ 1: grant id (16) ‖ wrapped key (60: nonce ‖ AES-256-GCM of
//	            the key under "share grant wrap", AD "callvault share
//	            grant key\0" ‖ grant id) ‖ zeros
//	free slot:  128 zero bytes
//
// The keys bucket of share.db maps a grant id to 0x02 ‖ the slot number
// (u64 BE) sealed under "share grant wrap" with AD "callvault share
// grant slot\0" ‖ grant id; a free page holding an old reference names
// a slot that is zero or reused by another grant (whose id it holds), so
// it unwraps nothing. The slot file alone holds only wrapped keys; share.db
// alone holds no key. Keep, copy and restore the two files together: a
// backup (archive.WriteBackup through BackupSnapshot) carries both, the
// slot file read while share.db's snapshot transaction is open.
//
// Order. Send writes the chunks (transactions of their own), then the
// key's slot, and fsyncs the slot file; only then does it commit the
// grant, its slot reference and its mail. A destroy (expiry, cancel)
// commits the deletion of the reference, the details and the chunks, and
// only then zeroes the slot and fsyncs; the slot is reused only after it
// is zero. Open sweeps: a non-zero slot no grant refers to is zeroed, and
// chunks of grants without a key are deleted (as before).
//
// What a crash (or a failed write) at each point leaves, and what the next
// Open does:
//
//	during the copies            chunks without a key → deleted
//	slot written, not synced     a torn or whole slot no grant refers to
//	                             → zeroed; its chunks → deleted
//	slot synced, before commit   the same (nothing refers to it)
//	commit of the grant fails    Send zeroes the slot and deletes the
//	                             chunks at once (no restart needed)
//	after the grant's commit     a whole grant: plays
//	destroy before its commit    bbolt rolls back: the grant is whole
//	                             and plays; an expiry is done by the
//	                             next Expire run (Run starts with one)
//	after the destroy's commit,  the grant is destroyed in share.db, its
//	before the slot is zeroed    slot holds the wrapped key but nothing
//	                             refers to it → zeroed at Open. Until
//	                             then a copy of both files and the
//	                             archive key could unwrap it: the one
//	                             window, closed by the restart
//	zeroing fails (I/O error)    logged; the slot stays out of use and
//	                             non-zero until the next Open zeroes it
//	after the zeroing            nothing left
//
// A slot reference the slot file cannot answer means the two files do not
// belong together (the order above never leaves one). Open refuses a
// missing slot file (while share.db refers to slots), one shorter than
// the slots named, one that holds the keys of fewer than half the grants
// (two or more missing), and references that do not open (another
// archive's key); it changes nothing then. Otherwise a grant whose slot
// is zero or holds another grant's id is lost: its copies are deleted and
// the log says expired. A destroy zeroes a slot only while it holds the
// grant's own id. Keys stored inline in the keys bucket
// by earlier versions are moved into slots at Open; their old bytes stay
// in share.db's free pages until reused.
//
// Limit: overwriting in place is what the file system is asked to do; a
// copy-on-write file system (btrfs, ZFS) or flash translation may keep
// the old block. As for the archive's data-key slots (archive/FORMAT.md).
//
// # Codes
//
// Six digits, valid ten minutes, one active code per link and client
// address (a new one voids that address's old one; an entry is checked
// against its own address's code only), five wrong entries per code,
// three codes an hour and ten a day per link and address, ten an hour and
// thirty a day per link for addresses it was never opened from, and per
// address twenty code requests an hour and a back-off on failed entries;
// code_limit.go states the rules and the bound they put on guessing. The
// code mail is queued in the transaction that stores the code, to the
// link's address only, and is dropped if still queued when the code
// expires. POST /api/code answers the same whether or not a mail went
// out. Requests, entries and the terms' acceptance are audited
// (share.code.request, share.code.enter, share.terms.accept) under
// external:<address>; refusals by a limit once per wait.
//
// # Mail
//
// The service is the mail queue (mail.Queue): mail is stored sealed until
// it is sent, then only its metadata stays. In outbox mode (no SMTP
// server) mail is kept for admins with codes masked and never sent.
package share
