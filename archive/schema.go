package archive

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/callvault/callvault/archive/kv"
)

// schemaVersion is the layout of buckets and keys written by this build.
// It is stored under bucketMeta/"schema" when a file is created. A file with
// a newer schema is refused; an older one would be migrated here, or refused
// when no migration exists. Numbers are never reused.
//
// Schema 1 stored chunk values under id ‖ kind ‖ index; schema 2 stores
// them append-only under a sequence number, with bucketChunkIndex mapping
// id ‖ kind ‖ index to it (see FORMAT.md, "Chunk storage"). No schema 1
// archive was ever installed, so there is no migration: Open refuses it.
//
// Schema 3 keeps data keys in the slot file PATH.dkeys, bucketDataKeys
// holding slot references (slots.go); Open moves schema 2's inline keys
// there and records schema 3.
//
// Schema 4 adds bucketByRetention (the lifecycle's index by the instant
// retention counts from) and bucketSeatLost (when each login lost its
// recording seat), and signs the chain head (meta "chain.head" grows from
// 40 to 104 bytes: seq ‖ hash ‖ Ed25519 signature). Open signs the head of
// an older file when it names the chain's last entry (bindChainHead in
// seal.go), then builds both buckets (migrateRetention in lifecycle.go)
// and records schema 4.
const (
	minSchema     = 2 // oldest layout this build reads
	schemaSlots   = 3 // data keys in the slot file
	schemaVersion = 4 // layout this build writes
)

// Buckets. Every bucket the archive uses is declared here and created in one
// transaction by Open. Keys hold only times, IDs, sequence numbers and keyed
// hashes; everything that names a person is encrypted (see FORMAT.md).
var (
	// bucketMeta: "schema" → uint64 BE; "created" → int64 BE unix ns;
	// "chain.head" → seq uint64 BE ‖ sha256 of the last chain entry ‖
	// Ed25519 signature of both (seal.go, chainHeadMessage);
	// "probe" → int64 BE unix ns of the last health probe (usage.go).
	bucketMeta = []byte("meta")
	// bucketKeyring: "kek" → 1 byte (1 key file, 2 passphrase); "kdf" →
	// passphrase KDF params and salt; "master" → master key boxed by the
	// archive key; "seal.pub" → Ed25519 public key; "seal.priv" → seed
	// boxed by the seal subkey.
	bucketKeyring = []byte("keyring")
	// bucketDataKeys: id → slot reference 0x02 ‖ slot uint64 BE in the
	// data-key file (slots.go; schema 2: the data key boxed by the wrap
	// subkey). Zeroing the slot is the crypto-shred. On a backend other
	// than bbolt: id → the data key boxed by the wrap subkey, as in
	// schema 2, in a blob bucket (ShredBuckets); removing its object is
	// the crypto-shred.
	bucketDataKeys = []byte("dkeys")
	// bucketRecs: id → recording metadata (JSON) boxed by the recording's
	// meta subkey.
	bucketRecs = []byte("recs")
	// bucketChunks: seq uint64 BE → 0x01 ‖ AES-GCM chunk. seq comes from
	// the bucket's sequence, so every insert appends at the right edge of
	// the tree and no leaf holding older chunks is rewritten (chunks.go).
	bucketChunks = []byte("chunks")
	// bucketChunkIndex: id ‖ kind ‖ index uint64 BE → seq uint64 BE, the
	// key of the chunk's value in bucketChunks.
	bucketChunkIndex = []byte("chunkidx")
	// bucketByTime: time (uint64 BE, sign bit flipped unix ns) ‖ id → "".
	// The time is StartTime, or Received until StartTime is known.
	bucketByTime = []byte("bytime")
	// bucketByCall: HMAC-SHA256(index key, "call\0" ‖ guid)[:16] ‖ id → "".
	bucketByCall = []byte("bycall")
	// bucketByOrig: HMAC-SHA256(index key, "orig\0" ‖ hex sha256 of the
	// original)[:16] ‖ id → "". Written by Finish; lets an import skip
	// captures that are already stored.
	bucketByOrig = []byte("byorig")
	// bucketByWho: HMAC-SHA256(index key, "who\0" ‖ kind ‖ term)[:16] ‖
	// time key → "": the who index of ListFor, one key per owner login
	// and party term of a recording (userindex.go).
	bucketByWho = []byte("bywho")
	// bucketWhoPending: time key (as bucketByTime) → "" while the
	// recording is unfinished, 0x01 once finished: a listed recording whose
	// who keys the indexer has not written yet (whopending.go).
	bucketWhoPending = []byte("whopending")
	// bucketUnfinished: id → "" while the recording is in state recording.
	bucketUnfinished = []byte("unfinished")
	// bucketUnsealed: id → "" from Finish until Seal.
	bucketUnsealed = []byte("unsealed")
	// bucketExportsDue: id → "" from a deferred seal until its exports
	// entry is appended (seal_deferred.go).
	bucketExportsDue = []byte("exportsdue")
	// bucketChain: seq uint64 BE → seal or tombstone entry.
	bucketChain = []byte("chain")
	// bucketUsers: HMAC-SHA256(index key, "user\0" ‖ login) → user record
	// (JSON) boxed by the state subkey.
	bucketUsers = []byte("users")
	// bucketAudit: seq uint64 BE → audit entry (header ‖ box under the
	// state subkey); see audit.go and FORMAT.md.
	bucketAudit = []byte("audit")
	// bucketNotes: id ‖ note uint64 BE → note (JSON) boxed by the
	// recording's notes subkey (destroyed with the data key).
	bucketNotes = []byte("notes")
	// bucketTokens: HMAC-SHA256(index key, "token\0" ‖ token) → token
	// record (JSON) boxed by the state subkey.
	bucketTokens = []byte("tokens")
	// bucketSessions: HMAC-SHA256(index key, "session\0" ‖ token) →
	// session record (JSON) boxed by the state subkey.
	bucketSessions = []byte("sessions")
	// bucketSettings: "settings" → settings (JSON) boxed by the state
	// subkey.
	bucketSettings = []byte("settings")
	// bucketWebDAV: the user's key in bucketUsers → WebDAV password record
	// (JSON) boxed by the state subkey (users_webdav.go).
	bucketWebDAV = []byte("webdav")
	// bucketProtected: id → "" while the recording is on legal hold, so
	// Expire skips it without decrypting (lifecycle.go).
	bucketProtected = []byte("protected")
	// bucketBin: time key of the moment it was binned (as bucketByTime)
	// → "": the recycle bin, oldest first for expiry (lifecycle.go).
	bucketBin = []byte("bin")
	// bucketByRetention: time key (as bucketByTime) of the instant
	// retention counts from — Received, or the base an import kept — →
	// "", for every recording in bucketByTime: Expire walks it oldest
	// first (lifecycle.go).
	bucketByRetention = []byte("byretention")
	// bucketSeatLost: HMAC-SHA256(index key, "seat\0" ‖ lower(login)) →
	// int64 BE unix ns: when the login lost its recording seat (user
	// deleted, seat or role taken away), by the archive's clock; removed
	// when the seat is given back. The seat grace counts from it.
	bucketSeatLost = []byte("seatlost")
	// bucketCDRs: HMAC-SHA256(index key, "call\0" ‖ call id)[:16] ‖
	// HMAC-SHA256(index key, "cdr\0" ‖ content)[:16] → call detail record
	// (JSON) boxed by the state subkey (cdr.go).
	bucketCDRs = []byte("cdrs")
)

var allBuckets = [][]byte{
	bucketMeta, bucketKeyring, bucketDataKeys, bucketRecs, bucketChunks, bucketByTime,
	bucketByCall, bucketUnfinished, bucketUnsealed, bucketChain, bucketUsers, bucketByOrig,
	bucketAudit, bucketNotes, bucketTokens, bucketSessions, bucketSettings,
	bucketWebDAV, bucketByWho, bucketChunkIndex, bucketProtected, bucketBin,
	bucketByRetention, bucketSeatLost, bucketCDRs,
	bucketExportsDue, bucketFourEyes, bucketWhoPending,
}

// BlobBuckets names the buckets whose values a backend that keeps values
// apart from its records (pgkv's blob buckets in S3) is opened with: the
// sealed chunks, up to ChunkSize of ciphertext each, written once under a
// fresh sequence number and never changed; and the data keys (see
// ShredBuckets). Every other bucket holds small records and indexes.
func BlobBuckets() [][]byte {
	return [][]byte{append([]byte(nil), bucketChunks...), append([]byte(nil), bucketDataKeys...)}
}

// ShredBuckets names the blob buckets whose values must be destroyed, not
// only released, when deleted: the data keys. On a backend other than
// bbolt the archive keeps no slot file (slots.go); each recording's data
// key, boxed by the wrap subkey, is the value of bucketDataKeys, so that
// the box is an object of its own and the database holds only the
// object's name. Removing that object when a purge commits is what
// destroys the recording (FORMAT.md, "Data keys on PostgreSQL + S3").
func ShredBuckets() [][]byte {
	return [][]byte{append([]byte(nil), bucketDataKeys...)}
}

// CacheBuckets names the blob buckets whose values a backend may keep in
// memory once read: the data keys, small and read on every decryption.
// A cached value is still the wrapped box; unwrapping it needs the key.
func CacheBuckets() [][]byte {
	return [][]byte{append([]byte(nil), bucketDataKeys...)}
}

// Keys inside bucketMeta.
var (
	metaSchema    = []byte("schema")
	metaCreated   = []byte("created")
	metaChainHead = []byte("chain.head")
	metaAuditHead = []byte("audit.head")
)

// Keys inside bucketKeyring.
var (
	keyringKEK      = []byte("kek")
	keyringKDF      = []byte("kdf")
	keyringMaster   = []byte("master")
	keyringSealPub  = []byte("seal.pub")
	keyringSealPriv = []byte("seal.priv")
)

const (
	chunkKeyLen = 16 + 1 + 8
	timeKeyLen  = 8 + 16
	callHashLen = 16
	callKeyLen  = callHashLen + 16
	seqKeyLen   = 8
)

// initSchema checks or writes the schema version and creates the buckets.
// The version is checked first, so a file with another layout is refused
// before anything is written to it.
func initSchema(tx kv.Tx, now time.Time) error {
	if meta := tx.Bucket(bucketMeta); meta != nil {
		if v := meta.Get(metaSchema); v != nil {
			if err := checkSchema(v); err != nil {
				return err
			}
		}
	}
	for _, name := range allBuckets {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("archive: create bucket %s: %w", name, err)
		}
	}
	meta := tx.Bucket(bucketMeta)
	if meta.Get(metaSchema) != nil {
		return nil
	}
	if err := meta.Put(metaSchema, binary.BigEndian.AppendUint64(nil, schemaVersion)); err != nil {
		return err
	}
	return meta.Put(metaCreated, binary.BigEndian.AppendUint64(nil, uint64(now.UnixNano())))
}

// checkSchema accepts a stored schema version this build reads.
func checkSchema(v []byte) error {
	if len(v) != 8 {
		return fmt.Errorf("archive: schema version record: %w", ErrCorrupt)
	}
	switch s := binary.BigEndian.Uint64(v); {
	case s > schemaVersion:
		return fmt.Errorf("archive: file has schema version %d, this build reads up to %d: %w", s, schemaVersion, ErrInvalid)
	case s == 1:
		return fmt.Errorf("archive: file has schema version 1 (chunks keyed by recording, an early layout), this build reads schema %d..%d and has no migration from it: %w", minSchema, schemaVersion, ErrInvalid)
	case s < minSchema:
		return fmt.Errorf("archive: file has schema version %d, this build reads from %d: %w", s, minSchema, ErrInvalid)
	}
	return nil
}

// chunkKey is a chunk's key in bucketChunkIndex.
func chunkKey(id ID, kind BlobKind, index uint64) [chunkKeyLen]byte {
	var k [chunkKeyLen]byte
	copy(k[:16], id[:])
	k[16] = byte(kind)
	binary.BigEndian.PutUint64(k[17:], index)
	return k
}

// blobPrefix is the common prefix of all chunkKeys of one blob.
func blobPrefix(id ID, kind BlobKind) []byte {
	return append(id[:], byte(kind))
}

// timeKey orders recordings by time, then ID. Flipping the sign bit keeps
// times before 1970 in order.
func timeKey(ns int64, id ID) [timeKeyLen]byte {
	var k [timeKeyLen]byte
	binary.BigEndian.PutUint64(k[:8], uint64(ns)^(1<<63))
	copy(k[8:], id[:])
	return k
}

func seqKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64(nil, seq)
}
