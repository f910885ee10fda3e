package archive

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callvault/callvault/archive/kv"
)

// migrateSource makes a closed bbolt archive at dir/src.db with sealed
// recordings, a purged one, one in the recycle bin, users, settings and
// audit entries, and returns the IDs of the recordings kept with their
// originals.
func migrateSource(t *testing.T, dir string) (path string, opt Options, kept map[ID][]byte) {
	t.Helper()
	ctx := t.Context()
	path = filepath.Join(dir, "src.db")
	opt = storeOptions(dir)
	a, err := Open(path, opt)
	if err != nil {
		t.Fatal(err)
	}
	storeRound(t, a) // three sealed, one of them purged
	kept = map[ID][]byte{}
	for i := range 4 {
		orig := data(ChunkSize+500*i, uint64(40+i))
		r := record(t, a, NewRecording{CallGUID: "m"}, orig, data(64, 7), Final{Info: []byte(`{}`)})
		if err := a.Seal(ctx, r.ID, [][32]byte{{byte(i)}}); err != nil {
			t.Fatal(err)
		}
		kept[r.ID] = orig
		if i == 3 {
			if err := a.Bin(ctx, r.ID, "admin"); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := a.PutUser(ctx, User{Login: "alice", Name: "Alice", Role: RoleAdmin}, "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	s, err := a.Settings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.PutSettings(ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := a.Audit(ctx, AuditEvent{Actor: "alice", Action: "login", OK: true}); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	return path, opt, kept
}

// migrateAll runs Migrate, CompareMigrated, OpenMigrated and
// FinishMigration, and closes the opened archive.
func migrateAll(t *testing.T, src, dst MigrateEnd, opt Options) MigrateProgress {
	t.Helper()
	ctx := t.Context()
	p, err := Migrate(ctx, src, dst, MigrateOptions{BatchRecords: 5})
	if err != nil {
		t.Fatal(err)
	}
	if p.Records != p.TotalRecords {
		t.Fatalf("copied %d records of %d", p.Records, p.TotalRecords)
	}
	cmp, err := CompareMigrated(ctx, src, dst)
	if err != nil {
		t.Fatal(err)
	}
	if cmp.Records != p.TotalRecords || cmp.Buckets != len(allBuckets) {
		t.Fatalf("compared %+v, copied %+v", cmp, p)
	}
	a, err := OpenMigrated(dst, opt)
	if err != nil {
		t.Fatal(err)
	}
	v, err := a.FinishMigration(ctx, nil)
	// 7 sealed recordings (one purged since: a tombstone), 6 kept.
	if err != nil || v.Recordings != 6 || v.ChainEntries != 8 || len(v.Problems) != 0 {
		t.Fatalf("finish: %v %+v", err, v)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

// checkMigrated opens the archive and reads every kept recording back.
func checkMigrated(t *testing.T, a *Archive, kept map[ID][]byte) {
	t.Helper()
	for id, orig := range kept {
		if got := readBlob(t, a, id, BlobOriginal); !bytes.Equal(got, orig) {
			t.Fatalf("recording %s reads back %d bytes, not what was written", id, len(got))
		}
	}
	res, err := a.VerifyChain(t.Context())
	if err != nil || !res.Valid || res.Tombstones != 1 {
		t.Fatalf("chain: %v %+v", err, res)
	}
	if u, err := a.Users(t.Context()); err != nil || len(u) != 1 {
		t.Fatalf("users: %v %v", err, u)
	}
}

// TestMigrateBolt copies a bbolt archive into another bbolt file: the
// source is refused while a daemon holds it; a copy cut off after a batch
// leaves a target that Open refuses and a rerun resumes, not restarts;
// a changed value is found by the comparison; the finished copy opens,
// reads, verifies (its chain witness written) and a target holding
// another archive is refused.
func TestMigrateBolt(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	srcPath, opt, kept := migrateSource(t, dir)

	// Locked: the daemon holds the file.
	a, err := Open(srcPath, opt)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OpenBoltSource(srcPath, 50*time.Millisecond); !errors.Is(err, ErrInUse) {
		t.Fatalf("source held by a daemon: %v", err)
	}
	a.Close()

	srcStore, err := OpenBoltSource(srcPath, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer srcStore.Close()
	src := MigrateEnd{Store: srcStore, Path: srcPath}
	dstPath := filepath.Join(dir, "dst.db")
	dstStore, err := OpenBoltTarget(dstPath, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	dst := MigrateEnd{Store: dstStore, Path: dstPath}

	p, err := Migrate(ctx, src, dst, MigrateOptions{BatchRecords: 5, StopAfter: 3})
	if !errors.Is(err, ErrMigrateStopped) || p.Batches != 3 || p.Records == 0 || p.Records >= p.TotalRecords {
		t.Fatalf("stopped copy: %v %+v", err, p)
	}
	first := p.Records
	dstStore.Close()
	if _, err := Open(dstPath, opt); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "callvault migrate") {
		t.Fatalf("open of an unfinished copy: %v", err)
	}
	if dstStore, err = OpenBoltTarget(dstPath, time.Second); err != nil {
		t.Fatal(err)
	}
	dst.Store = dstStore
	var seen []MigrateProgress
	p, err = Migrate(ctx, src, dst, MigrateOptions{BatchRecords: 5, Progress: func(p MigrateProgress) { seen = append(seen, p) }})
	if err != nil || p.ResumedRecords != first || p.Records != p.TotalRecords || len(seen) == 0 || seen[0].Records <= first {
		t.Fatalf("resumed copy: %v %+v (first run %d)", err, p, first)
	}

	// A value changed in the target is found.
	var key, old []byte
	if err := dstStore.Update(func(tx kv.Tx) error {
		key, old = tx.Bucket(bucketRecs).Cursor().First()
		key, old = bytes.Clone(key), bytes.Clone(old)
		return tx.Bucket(bucketRecs).Put(key, append(bytes.Clone(old), 0))
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := CompareMigrated(ctx, src, dst); err == nil || !strings.Contains(err.Error(), "differs") {
		t.Fatalf("comparison of a changed copy: %v", err)
	}
	if err := dstStore.Update(func(tx kv.Tx) error { return tx.Bucket(bucketRecs).Put(key, old) }); err != nil {
		t.Fatal(err)
	}
	migrateAll(t, src, dst, opt)

	b, err := Open(dstPath, opt)
	if err != nil {
		t.Fatal(err)
	}
	checkMigrated(t, b, kept)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	// The target now holds an archive: a second copy into it is refused.
	dstStore, err = OpenBoltTarget(dstPath, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer dstStore.Close()
	if _, err := Migrate(ctx, src, MigrateEnd{Store: dstStore, Path: dstPath}, MigrateOptions{}); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "already holds an archive") {
		t.Fatalf("copy into an archive: %v", err)
	}
}

// TestMigratePostgres copies a bbolt archive into PostgreSQL + S3 (the
// data keys leave the slot file for their objects) and back into a new
// bbolt file (into slots again, with the chain witness); both copies
// verify and read back what was written. A target holding an unfinished
// copy of another archive is refused.
func TestMigratePostgres(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	srcPath, opt, kept := migrateSource(t, dir)
	srcStore, err := OpenBoltSource(srcPath, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer srcStore.Close()
	src := MigrateEnd{Store: srcStore, Path: srcPath}

	target := newPostgresTarget(t)
	pgPath := filepath.Join(dir, "pg", "archive.db")
	pg := target.open(t)
	migrateAll(t, src, MigrateEnd{Store: pg, Path: pgPath}, opt)
	a, err := target.openArchive(t, pgPath, opt)
	if err != nil {
		t.Fatal(err)
	}
	checkMigrated(t, a, kept)
	a.Close()

	// Back to bbolt.
	pg = target.open(t)
	defer pg.Close()
	backPath := filepath.Join(dir, "back.db")
	back, err := OpenBoltTarget(backPath, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	migrateAll(t, MigrateEnd{Store: pg, Path: pgPath}, MigrateEnd{Store: back, Path: backPath}, opt)
	b, err := Open(backPath, opt)
	if err != nil {
		t.Fatal(err)
	}
	checkMigrated(t, b, kept)
	b.Close()

	// Another archive's unfinished copy is refused.
	other := newPostgresTarget(t).open(t)
	defer other.Close()
	if _, err := Migrate(ctx, src, MigrateEnd{Store: other, Path: pgPath}, MigrateOptions{StopAfter: 1, BatchRecords: 2}); !errors.Is(err, ErrMigrateStopped) {
		t.Fatal(err)
	}
	secondPath, _, _ := migrateSource(t, t.TempDir())
	second, err := OpenBoltSource(secondPath, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	if _, err := Migrate(ctx, MigrateEnd{Store: second, Path: secondPath}, MigrateEnd{Store: other, Path: pgPath}, MigrateOptions{}); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "another archive") {
		t.Fatalf("copy into another archive's unfinished copy: %v", err)
	}
}

// TestMigrateRefusesStrayKeyFile: a data-key file beside a bbolt target
// no copy began in belongs to something else; the copy refuses it, and
// refuses it again on a rerun (the refusal left no marker that would
// make the rerun take the file for its own).
func TestMigrateRefusesStrayKeyFile(t *testing.T) {
	dir := t.TempDir()
	srcPath, _, _ := migrateSource(t, dir)
	srcStore, err := OpenBoltSource(srcPath, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer srcStore.Close()
	dstPath := filepath.Join(dir, "dst.db")
	stray := []byte("someone else's keys")
	if err := os.WriteFile(SlotFile(dstPath), stray, 0o600); err != nil {
		t.Fatal(err)
	}
	dstStore, err := OpenBoltTarget(dstPath, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer dstStore.Close()
	for run := range 2 {
		_, err := Migrate(t.Context(), MigrateEnd{Store: srcStore, Path: srcPath}, MigrateEnd{Store: dstStore, Path: dstPath}, MigrateOptions{})
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "data-key file") {
			t.Fatalf("run %d: %v", run+1, err)
		}
	}
	if got, err := os.ReadFile(SlotFile(dstPath)); err != nil || !bytes.Equal(got, stray) {
		t.Fatalf("the stray file changed: %q %v", got, err)
	}
}
