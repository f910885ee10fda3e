// Package archive stores recordings encrypted at rest in one bbolt file and
// a file of data-key slots beside it (PATH.dkeys, overwritten in place when a
// recording is purged); it is the only package that touches keys, and with
// its kv subpackages the only one that imports bbolt for the archive.
//
// It owns the recordings (original capture bytes and placement map, each a
// chunked AEAD blob), their encrypted metadata and indexes, the keyring (the
// archive key from a key file or a passphrase, the master key it wraps, the
// per-recording data keys, the Ed25519 seal key), the hash-chained seal log
// with tombstones, the users with their password hashes, API tokens and UI
// sessions (keyed hashes only), the notes on recordings, the settings, and
// the hash-chained audit log. [MayRead] is the one rule of who may read
// which recording; [Archive.ListFor] lists what a user may read through a
// keyed-hash index of owners and parties, decrypting only those.
// [Archive.Authenticate], [Archive.AuthenticateWebDAV] and
// [Archive.AuthenticateToken] take the client's address and hold the one
// password-guessing limit every door shares (auth_limit.go; past it they
// return a [LimitedError] without checking anything). It never speaks
// HTTP: ingest, UI, WebDAV and share call its methods.
//
// # Writing
//
// [Archive.Create] returns a [Writer] after a durable "recording" record is
// committed. Bytes handed to [Writer.WriteOriginal] and [Writer.WriteMap] are
// cut into 64 KiB chunks; each full chunk is hashed, sealed with the
// recording's data key and queued by a pipeline goroutine of the writer
// (one chunk at a time, so the caller goes on reading meanwhile) to one
// committer goroutine that group-commits the chunks of all
// open writers (at CommitBytes pending or every CommitInterval). Chunk
// values are appended under increasing sequence numbers and found through a
// small index, so a commit never rewrites pages of older chunks (FORMAT.md,
// "Chunk storage"). The queue is bounded, so a slow disk pushes back on
// writers. Functions a caller waits for (Create, Finish, seals, settings)
// have a queue of their own that each group takes first, so they wait for
// one or two commits, not for the chunks every open upload queued before
// them; Finish queues behind its own writer's chunks while some are still
// queued (commit.go). [Writer.Sync] and
// [Writer.Finish] return after their data is committed and fsynced. A
// recording cut off by a crash stays in state "recording" and is listed by
// [Archive.Unfinished] so the caller can [Archive.Resume] it.
//
// A commit that fails for want of disk space fails with [ErrNoSpace] and
// changes nothing stored. With Options.ReserveBytes the archive keeps that
// much disk in [ReserveFile] and, when the disk fills, releases it, cuts off
// the running writers and refuses [Archive.Create] until there is room
// again, so that the cut-off recordings can be finished at once
// ([Writer.Abort], then [Archive.Resume]) (space.go).
//
// # Reading
//
// [Archive.OpenBlob] returns a [Blob], an io.ReaderAt and io.ReadSeeker that
// reads each chunk in its own short read transaction, copies it out and
// authenticates it before use. No read transaction is held while a caller
// consumes the bytes.
//
// # Sealing
//
// [Archive.Seal] appends a signed entry to the seal chain; [Archive.Delete]
// destroys the recording's data key together with its records and appends a
// signed tombstone. [Archive.Verify] and [Archive.VerifyChain] recompute
// everything from the stored bytes.
//
// # Playback
//
// [Archive.CheckPlayback] is the cheap check made before a recording leaves
// the appliance: the Ed25519 signature of its chain entry and the hashes it
// signs against the stored metadata, in one read transaction, without
// reading audio (each chunk is authenticated as it is read). A broken seal
// is a [SealError].
//
// # Lifecycle
//
// [Archive.SetProtected] puts a recording on legal hold, which every
// removal respects. [Archive.Bin] moves a recording to the recycle bin
// ([Archive.RecycleBin], [Archive.Restore]); [MayDelete], [MayProtect] and
// [MayRestore] say who may do what, with the user's [DeletionMode];
// [CheckDelete] and [CheckPurge] say why not, and [Archive.DeleteFor]
// deletes as the user's mode says (pages and API both go through them).
// [Archive.Expire] applies retention, the seat grace and the bin's expiry
// at the archive's clock, counting from when a recording was received
// ([Archive.SetRetentionBase] may change that) and from when its owner
// lost the seat ([Archive.SeatLost]), never from times inside a capture;
// each recording it removes gets an audit entry. [Archive.PreviewExpire]
// counts what a run under other settings would remove;
// [Policy.DeletionDate] says when a recording will go, never before today.
//
// # Storage
//
// Every record goes through the storage seam of package archive/kv: a
// transactional, ordered key-value store with bbolt's semantics (one
// writer, snapshot readers, ordered buckets with sequences, OnCommit).
// Encryption, indexes, the seal chain and the lifecycle sit above it and
// are the same on every backend. [Open] opens the bbolt file at a path
// (archive/kv/boltkv); [OpenStore] opens an archive on any kv.Store. What
// only a bbolt file needs reaches bbolt beneath the seam and is skipped on
// another backend: the page walk before Open and [Archive.Check]
// (guard.go, pagewalk.go), [Archive.WriteBackup] (backup.go), [Compact],
// [Salvage], the chunk bucket's fill percent and the file figures of
// [Archive.Usage]. The data-key slots, the chain head's witness and the
// reserve file stay local files beside the path on every backend
// (archive.go lists them; FORMAT.md, "Storage seam").
//
// # Compatibility
//
// The on-disk format, key hierarchy, chain encoding and threat model are
// specified in FORMAT.md next to this file, with known-answer test vectors
// that the tests check. Format and schema numbers are never reused.
//
// # Subpackages
//
// archive/kv is the storage seam and archive/kv/boltkv its bbolt
// implementation. archive/seal holds the seal chain's entry format, the chain head and the
// checks that need only the public key; it imports neither bbolt nor the
// archive, so offline verification links it alone. archive/archivetest
// opens archives for other packages' tests and damages closed files the
// way someone holding them could; only tests import it.
package archive
