package archive

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/callvault/callvault/archive/kv"
	"github.com/callvault/callvault/archive/kv/boltkv"
	"github.com/callvault/callvault/internal/keeppool"
	"github.com/callvault/callvault/internal/slotfile"
)

// Options configure Open. The zero value is not usable: set KeyFile or
// Passphrase.
type Options struct {
	// KeyFile is the archive key file: comment lines starting with '#'
	// and one line of 64 hex digits (32 random bytes); see FORMAT.md. When
	// a new archive is created and the file is missing, it is created
	// with mode 0600. It should live outside the data directory.
	KeyFile string
	// Passphrase, if set, replaces the key file: the archive key is
	// argon2id(passphrase, stored salt and parameters). Open does not
	// keep it.
	Passphrase []byte
	// KDF is the argon2id cost for a new passphrase and for new password
	// hashes. Zero means DefaultKDF(); tests use FastKDF.
	KDF KDFParams
	// Logger receives operational messages (never keys or passwords).
	// Nil discards them.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// CommitInterval is the longest a written chunk waits for its group
	// commit; default 100ms.
	CommitInterval time.Duration
	// CommitBytes flushes a group commit once this many bytes are
	// pending; default 4 MiB.
	CommitBytes int
	// InitialMmapSize is bbolt's initial memory map (address space, not
	// RAM); readers never block the writer until the file outgrows it.
	// Default 1 GiB. Open alone uses it (OpenStore's caller opened the
	// store).
	InitialMmapSize int
	// LockTimeout bounds the wait for the file lock held by another
	// process; default 10s.
	LockTimeout time.Duration
	// ReserveBytes is disk space kept in ReserveFile(path) to finish
	// uploads cut off by a full disk (space.go); 0 keeps none.
	ReserveBytes int64
	// OnCommit, when set, is called by the writer goroutine after each
	// group commit (ops in the group, chunk bytes written, time spent
	// including fsync). It must be quick and must not call the archive.
	OnCommit func(ops int, bytes int64, d time.Duration)

	migrated bool // OpenMigrated: the store holds a copy not yet verified (migrate.go)
}

// String describes the options with the passphrase redacted, so that
// logging a configuration never prints it.
func (o Options) String() string {
	pass := "none"
	if o.Passphrase != nil {
		pass = "REDACTED"
	}
	return fmt.Sprintf("{KeyFile:%s Passphrase:%s KDF:%+v CommitInterval:%v CommitBytes:%d}", o.KeyFile, pass, o.KDF, o.CommitInterval, o.CommitBytes)
}

// GoString implements fmt.GoStringer like String.
func (o Options) GoString() string { return o.String() }

// LogValue implements slog.LogValuer like String.
func (o Options) LogValue() slog.Value { return slog.StringValue(o.String()) }

// Validate reports options that Open would refuse.
func (o Options) Validate() error {
	switch {
	case o.KeyFile == "" && o.Passphrase == nil:
		return fmt.Errorf("archive: neither key file nor passphrase configured: %w", ErrInvalid)
	case o.Passphrase != nil && len(o.Passphrase) == 0:
		return fmt.Errorf("archive: empty passphrase: %w", ErrInvalid)
	case o.CommitInterval < 0 || o.CommitBytes < 0 || o.InitialMmapSize < 0 || o.LockTimeout < 0:
		return fmt.Errorf("archive: negative commit interval, commit bytes, mmap size or lock timeout: %w", ErrInvalid)
	}
	if o.KDF != (KDFParams{}) {
		return o.KDF.validate()
	}
	return nil
}

// withDefaults validates o and fills in what every way of opening an
// archive defaults alike: the KDF, a logger that discards, the wall clock,
// and lockTimeout to wait for the file's lock.
func (o Options) withDefaults(lockTimeout time.Duration) (Options, error) {
	if err := o.Validate(); err != nil {
		return o, err
	}
	if o.KDF == (KDFParams{}) {
		o.KDF = DefaultKDF()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.LockTimeout <= 0 {
		o.LockTimeout = lockTimeout
	}
	return o, nil
}

// Archive is an open archive file. All methods are safe for concurrent
// use.
type Archive struct {
	path string
	// store holds every record (kv.Store, the storage seam); bolt is
	// the same store when it is one bbolt file, for the duties only
	// bbolt has (Check, backup, file statistics), and nil otherwise.
	store kv.Store
	bolt  *boltkv.Store
	log   *slog.Logger
	now   func() time.Time
	kdf   KDFParams
	keys  *keyring
	c     *committer
	bufs  *keeppool.Pool[*[]byte] // chunk buffers
	auth  *authenticator
	// slots is the data-key file (slots.go).
	slots *keySlots
	// settingsW are the WatchSettings callbacks.
	settingsW watchers[Settings]
	// space is the disk-full state and its reserve (space.go).
	space *spaceGuard
	// witness is the chain head's witness in the slot file
	// (headwitness.go).
	witness witnessState
	// bg is the work Open leaves running (the search index backfill);
	// Close cancels bgCtx and waits for it.
	bg       sync.WaitGroup
	bgCtx    context.Context
	bgCancel context.CancelFunc
	// whoWake tells the who indexer a finished recording waits for its
	// who keys (whopending.go).
	whoWake chan struct{}
	// lidx is the list index (listindex.go).
	lidx listIndex
	// feed follows other daemons' commits; nil on bbolt (feed.go).
	feed *archiveFeed
}

// Open opens or creates the archive at path (a bbolt file; parent
// directories are created 0700). A key that does not open an existing
// archive yields ErrWrongKey.
func Open(path string, opt Options) (*Archive, error) {
	if path == "" {
		return nil, fmt.Errorf("archive: open: empty path: %w", ErrInvalid)
	}
	opt, err := opt.openDefaults()
	if err != nil {
		return nil, err
	}
	if opt.InitialMmapSize <= 0 {
		opt.InitialMmapSize = 1 << 30
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("archive: open: %w", err)
	}
	store, created, err := openBoltFile(path, opt)
	if err != nil {
		return nil, err
	}
	a, err := open(store, path, created, opt)
	if err != nil {
		store.Close()
		return nil, err
	}
	return a, nil
}

// OpenStore opens or creates the archive held in store, a backend of the
// storage seam (package kv). path names the files the archive keeps
// beside its records (see "What a backend does not hold" below): the
// data-key file SlotFile(path), with the chain head's witness in it, and
// the reserve file ReserveFile(path); parent directories are created 0700.
// The archive owns store once OpenStore succeeds (Close closes it); when
// OpenStore fails the caller still owns it. Options that tune bbolt alone
// (InitialMmapSize, LockTimeout) have no effect on another backend.
//
// Open is OpenStore on the bbolt file at path, after the page checks only
// a bbolt file needs (guard.go).
func OpenStore(store kv.Store, path string, opt Options) (*Archive, error) {
	if store == nil || path == "" {
		return nil, fmt.Errorf("archive: open: no store or empty path: %w", ErrInvalid)
	}
	opt, err := opt.openDefaults()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("archive: open: %w", err)
	}
	created := false
	err = guard("open", func() error {
		return store.View(func(tx kv.Tx) error { created = tx.Bucket(bucketMeta) == nil; return nil })
	})
	if err != nil {
		return nil, fmt.Errorf("archive: open %s: %w", path, err)
	}
	return open(store, path, created, opt)
}

// What a backend does not hold. The archive keeps these files beside
// path on the local disk:
//
//   - On bbolt, SlotFile(path), the data-key slots (slots.go): each
//     recording's data key, encrypted, in a slot that is overwritten with
//     zeros when the recording is purged. Crypto-shredding rests on this
//     file being rewritten in place, which a store keeping old versions
//     (PostgreSQL until vacuum, a versioned bucket) does not give. On any
//     other backend there is no slot file: the keys are values of a shred
//     bucket (ShredBuckets), whose objects the backend destroys when a
//     purge commits, so that several daemons share them.
//   - On bbolt, the chain head's witness (headwitness.go), kept in the
//     slot file's header: the highest seal entry this archive has seen,
//     so that a file rolled back to an older copy is noticed.
//   - ReserveFile(path) (space.go): disk space set aside to finish uploads
//     cut off by a full disk.
//
// The archive key file (Options.KeyFile) lives wherever the operator puts
// it, outside the data directory.

// openDefaults is withDefaults with the group committer's defaults.
func (o Options) openDefaults() (Options, error) {
	o, err := o.withDefaults(10 * time.Second)
	if err != nil {
		return o, err
	}
	if o.CommitInterval <= 0 {
		o.CommitInterval = 100 * time.Millisecond
	}
	if o.CommitBytes <= 0 {
		o.CommitBytes = 4 << 20
	}
	return o, nil
}

// open opens the archive on store, which created says holds no archive
// yet. It leaves store open when it fails.
func open(store kv.Store, path string, created bool, opt Options) (*Archive, error) {
	a := &Archive{
		path:  path,
		store: store,
		bufs:  newChunkBufs(),
		log:   opt.Logger,
		now:   opt.Now,
		kdf:   opt.KDF,
	}
	a.bolt, _ = store.(*boltkv.Store)
	if err := checkMigrating(store, opt); err != nil {
		return nil, err
	}
	err := guard("open", func() error {
		return store.Update(func(tx kv.Tx) error {
			if err := initSchema(tx, a.now()); err != nil {
				return err
			}
			return raiseChunkSequence(tx)
		})
	})
	if err != nil {
		return nil, err
	}
	if err := guard("open", func() error { return a.unlock(opt) }); err != nil {
		return nil, err
	}
	headSigned, err := a.bindChainHead()
	if err != nil {
		return nil, err
	}
	if err := guard("open", a.openSlotsFor); err != nil {
		if a.slots != nil {
			a.slots.close()
		}
		return nil, err
	}
	if err := guard("open", a.migrateRetention); err != nil {
		a.slots.close()
		return nil, err
	}
	if err := a.openWitness(created || headSigned != 0); err != nil {
		a.slots.close()
		return nil, err
	}
	a.auth = newAuthenticator(a)
	queue := 2 * opt.CommitBytes / ChunkSize
	a.c = newCommitter(store, a.log, a.bufs, opt.CommitInterval, opt.CommitBytes, max(queue, 16))
	a.c.onCommit = opt.OnCommit
	a.c.beforeCommit = a.slots.sync
	a.c.afterCommit = func(ok bool) {
		a.slots.committed(ok)
		if ok {
			a.updateWitness()
		}
	}
	a.space = openSpace(path, opt.ReserveBytes, a.log)
	a.c.space = a.space
	go a.c.run()
	a.bgCtx, a.bgCancel = context.WithCancel(context.Background())
	if err := a.openFeed(); err != nil {
		a.bgCancel()
		a.c.close()
		a.slots.close()
		return nil, err
	}
	a.backfillWho() // once per archive: the who index of ListFor
	a.whoWake = make(chan struct{}, 1)
	a.goBackground(a.whoIndexer)
	// The list index, so the first list view finds it built.
	a.goBackground(func(ctx context.Context) { _, _, _ = a.listSnapshot(ctx) })
	if s, ok := a.store.(sweeper); ok {
		a.goBackground(func(ctx context.Context) { a.sweepLoop(ctx, s) })
	}
	if headSigned != 0 {
		// Once per archive; a second one means the file was rewritten
		// to look older (FORMAT.md, threat model).
		_ = a.Audit(context.Background(), AuditEvent{Actor: "system", Action: "chain.head.sign", OK: true,
			Detail: fmt.Sprintf("chain head at entry %d signed (format upgrade)", headSigned)})
	}
	var unfinished int
	_ = a.view(func(tx kv.Tx) error { unfinished = tx.Bucket(bucketUnfinished).KeyN(); return nil })
	a.log.Info("archive opened", "path", path, "unfinished", unfinished)
	return a, nil
}

// Close waits for queued writes to commit and closes the file. Writers
// still open stay in state "recording" (see Unfinished). Close is
// idempotent.
func (a *Archive) Close() error {
	if a.bgCancel != nil && !a.c.isClosed() {
		// The who keys of finished recordings, so that a build without
		// bucketWhoPending finds a consistent index (whopending.go).
		ctx, cancel := context.WithTimeout(context.Background(), whoDrainTimeout)
		if err := a.indexWhoNow(ctx); err != nil {
			a.log.Warn("archive who index: pending recordings left for the next open", "err", err)
		}
		cancel()
	}
	if a.bgCancel != nil {
		a.bgCancel()
		a.bg.Wait() // background work ends before the file closes
	}
	if !a.c.close() {
		return nil
	}
	err := a.store.Close()
	if a.slots != nil {
		_ = a.slots.f.Sync() // the chain witness, written without fsync
	}
	if serr := a.slots.close(); err == nil {
		err = serr
	}
	a.auth.close()
	if err != nil {
		return fmt.Errorf("archive: close: %w", err)
	}
	return nil
}

// goBackground runs fn in a goroutine that Close cancels (through fn's
// context) and waits for.
func (a *Archive) goBackground(fn func(context.Context)) {
	a.bg.Add(1)
	go func() {
		defer a.bg.Done()
		fn(a.bgCtx)
	}()
}

// Path returns the bbolt file's path, or with another backend the path
// given to OpenStore, beside which the archive keeps its local files.
func (a *Archive) Path() string { return a.path }

// Now is the archive's clock (Options.Now): the time it stamps on what it
// stores and judges retention by. The rest of the appliance reads the time
// here, so that one clock rules.
func (a *Archive) Now() time.Time { return a.now() }

// PublicKey returns the appliance's Ed25519 seal key.
func (a *Archive) PublicKey() ed25519.PublicKey {
	return append(ed25519.PublicKey(nil), a.keys.sealPub...)
}

// String identifies the archive without revealing key material (also when
// printed with %v or %#v).
func (a *Archive) String() string { return "archive(" + a.path + ")" }

// GoString implements fmt.GoStringer like String.
func (a *Archive) GoString() string { return a.String() }

// LogValue implements slog.LogValuer.
func (a *Archive) LogValue() slog.Value { return slog.StringValue(a.String()) }

// Stats are counters of the group committer since Open.
type Stats struct {
	Commits uint64 // bbolt write transactions
	Chunks  uint64 // chunks written
	Bytes   uint64 // chunk bytes written (sealed)
	// CommitTime is the time spent in write transactions, fsync included.
	CommitTime time.Duration
	// SealBacklog is the number of finished recordings not sealed yet
	// (Unsealed): the work left while sealing is off or catching up.
	SealBacklog int
}

// Stats returns the committer's counters and the seal backlog.
func (a *Archive) Stats() Stats {
	s := a.c.stats()
	_ = a.view(func(tx kv.Tx) error { s.SealBacklog = tx.Bucket(bucketUnsealed).KeyN(); return nil })
	return s
}

// view runs a read transaction under guard and maps the store's closed
// error to ErrClosed.
func (a *Archive) view(fn func(kv.Tx) error) error {
	err := viewGuarded(a.store, "read", fn)
	if isStoreClosed(err) || err != nil && a.bolt == nil && a.c != nil && a.c.isClosed() {
		// Another backend's error for a closed store is its own: the
		// archive knows it closed it.
		return ErrClosed
	}
	return err
}

// update runs fn in the committer's next transaction and waits for it to
// be durable. fn may run more than once (when another operation in the same
// group fails) and must derive everything from tx. bufs go back to the pool
// after the commit.
func (a *Archive) update(ctx context.Context, fn func(kv.Tx) error, bufs ...*[]byte) error {
	return a.updateOp(ctx, fn, false, bufs...)
}

// updateOp is update; ordered keeps fn behind the chunks queued before it
// (otherwise it goes ahead of them, see committer).
func (a *Archive) updateOp(ctx context.Context, fn func(kv.Tx) error, ordered bool, bufs ...*[]byte) error {
	done := make(chan error, 1)
	gfn := func(tx kv.Tx) error { return guard("write", func() error { return fn(tx) }) }
	if err := a.c.send(ctx, op{fn: gfn, bufs: bufs, done: done, ordered: ordered}); err != nil {
		for _, b := range bufs {
			a.bufs.Put(b)
		}
		return err
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (a *Archive) getBuf() *[]byte { return a.bufs.Get() }

// syncDir fsyncs a directory so that a file created in it survives a
// power cut.
func syncDir(dir string) error { return slotfile.SyncDir(dir) }

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}
