package archive

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/callvault/callvault/internal/slotfile"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

type boltTx = *bolt.Tx

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
	// Default 1 GiB.
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
	db   *bolt.DB
	log  *slog.Logger
	now  func() time.Time
	kdf  KDFParams
	keys *keyring
	c    *committer
	bufs sync.Pool // *[]byte with cap chunkBufCap
	auth *authenticator
	// slots is the data-key file (slots.go).
	slots *keySlots
	// settingsW are the WatchSettings callbacks.
	settingsW watchers
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
	// lidx is the list index (listindex.go).
	lidx listIndex
}

// Open opens or creates the archive at path (a bbolt file; parent
// directories are created 0700). A key that does not open an existing
// archive yields ErrWrongKey.
func Open(path string, opt Options) (*Archive, error) {
	if path == "" {
		return nil, fmt.Errorf("archive: open: empty path: %w", ErrInvalid)
	}
	opt, err := opt.withDefaults(10 * time.Second)
	if err != nil {
		return nil, err
	}
	if opt.CommitInterval <= 0 {
		opt.CommitInterval = 100 * time.Millisecond
	}
	if opt.CommitBytes <= 0 {
		opt.CommitBytes = 4 << 20
	}
	if opt.InitialMmapSize <= 0 {
		opt.InitialMmapSize = 1 << 30
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("archive: open: %w", err)
	}
	fi, statErr := os.Stat(path)
	if statErr == nil && fi.Size() > 0 {
		// bbolt's own walk at open panics out of reach on a damaged
		// page: find the damage first (guard.go).
		if err := preflight(path, opt.LockTimeout); err != nil {
			return nil, err
		}
	}
	var db *bolt.DB
	err = guard("open", func() error {
		var err error
		db, err = bolt.Open(path, 0o600, &bolt.Options{
			Timeout:         opt.LockTimeout,
			InitialMmapSize: opt.InitialMmapSize,
			FreelistType:    bolt.FreelistMapType,
			NoFreelistSync:  true,
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("archive: open %s: %w", path, err)
	}
	if errors.Is(statErr, fs.ErrNotExist) {
		// A new file: make its directory entry durable too.
		if err := syncDir(filepath.Dir(path)); err != nil {
			db.Close()
			return nil, fmt.Errorf("archive: open: %w", err)
		}
	}
	// Grow the file in larger steps: each growth costs an extra fsync.
	db.AllocSize = 64 << 20
	a := &Archive{
		path: path,
		db:   db,
		log:  opt.Logger,
		now:  opt.Now,
		kdf:  opt.KDF,
	}
	a.bufs.New = func() any { b := make([]byte, chunkBufCap); return &b }
	err = guard("open", func() error {
		return db.Update(func(tx *bolt.Tx) error { return initSchema(tx, a.now()) })
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	if err := guard("open", func() error { return a.unlock(opt) }); err != nil {
		db.Close()
		return nil, err
	}
	headSigned, err := a.bindChainHead()
	if err != nil {
		db.Close()
		return nil, err
	}
	if err := guard("open", a.openSlotsFor); err != nil {
		if a.slots != nil {
			a.slots.close()
		}
		db.Close()
		return nil, err
	}
	if err := guard("open", a.migrateRetention); err != nil {
		a.slots.close()
		db.Close()
		return nil, err
	}
	created := statErr != nil || fi.Size() == 0
	if err := a.openWitness(created || headSigned != 0); err != nil {
		a.slots.close()
		db.Close()
		return nil, err
	}
	a.auth = newAuthenticator(a)
	queue := 2 * opt.CommitBytes / ChunkSize
	a.c = newCommitter(db, a.log, &a.bufs, opt.CommitInterval, opt.CommitBytes, max(queue, 16))
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
	a.backfillWho() // once per archive: the who index of ListFor
	// The list index, so the first list view finds it built.
	a.goBackground(func(ctx context.Context) { _, _, _ = a.listSnapshot(ctx) })
	if headSigned != 0 {
		// Once per archive; a second one means the file was rewritten
		// to look older (FORMAT.md, threat model).
		_ = a.Audit(context.Background(), AuditEvent{Actor: "system", Action: "chain.head.sign", OK: true,
			Detail: fmt.Sprintf("chain head at entry %d signed (format upgrade)", headSigned)})
	}
	var unfinished int
	_ = a.view(func(tx *bolt.Tx) error { unfinished = tx.Bucket(bucketUnfinished).Stats().KeyN; return nil })
	a.log.Info("archive opened", "path", path, "unfinished", unfinished)
	return a, nil
}

// Close waits for queued writes to commit and closes the file. Writers
// still open stay in state "recording" (see Unfinished). Close is
// idempotent.
func (a *Archive) Close() error {
	if a.bgCancel != nil {
		a.bgCancel()
		a.bg.Wait() // background work ends before the file closes
	}
	if !a.c.close() {
		return nil
	}
	err := a.db.Close()
	_ = a.slots.f.Sync() // the chain witness, written without fsync
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

// Path returns the bbolt file's path.
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

// Check runs bbolt's consistency check over the whole file. It runs in a
// write transaction that is rolled back: bbolt's check reads the free
// list, which only a write transaction holds still, so writes wait while
// it runs (a check beside a running writer reports sound pages as corrupt).
func (a *Archive) Check() error {
	tx, err := a.db.Begin(true)
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	if err != nil {
		return fmt.Errorf("archive: check: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	var errs []error
	for err := range tx.Check() {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("archive: check: %w (%w)", ErrCorrupt, errors.Join(errs...))
	}
	return nil
}

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
	_ = a.view(func(tx *bolt.Tx) error { s.SealBacklog = tx.Bucket(bucketUnsealed).Stats().KeyN; return nil })
	return s
}

// preflight opens the file at path read-only and walks its pages, through
// bbolt (checkPages) and from the file's bytes (walkPages), so that damage
// is an error before bbolt's free-page scan meets it.
func preflight(path string, lockTimeout time.Duration) error {
	var db *bolt.DB
	err := guard("open", func() error {
		var err error
		db, err = bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: lockTimeout})
		return err
	})
	if err != nil {
		return fmt.Errorf("archive: open %s: %w", path, err)
	}
	defer db.Close()
	if err := checkPages(db); err != nil {
		return fmt.Errorf("archive: open %s: %w", path, err)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("archive: open %s: %w", path, err)
	}
	defer f.Close()
	if err := walkFile(f, db.Info().PageSize); err != nil {
		return fmt.Errorf("archive: open %s: %w", path, err)
	}
	return nil
}

// view runs a read transaction under guard and maps bbolt's closed error.
func (a *Archive) view(fn func(*bolt.Tx) error) error {
	err := viewGuarded(a.db, "read", fn)
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	return err
}

// update runs fn in the committer's next transaction and waits for it to
// be durable. fn may run more than once (when another operation in the same
// group fails) and must derive everything from tx. bufs go back to the pool
// after the commit.
func (a *Archive) update(ctx context.Context, fn func(*bolt.Tx) error, bufs ...*[]byte) error {
	done := make(chan error, 1)
	gfn := func(tx *bolt.Tx) error { return guard("write", func() error { return fn(tx) }) }
	if err := a.c.send(ctx, op{fn: gfn, bufs: bufs, done: done}); err != nil {
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

func (a *Archive) getBuf() *[]byte { return a.bufs.Get().(*[]byte) }

// syncDir fsyncs a directory so that a file created in it survives a
// power cut.
func syncDir(dir string) error { return slotfile.SyncDir(dir) }

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}
