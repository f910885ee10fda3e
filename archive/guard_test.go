package archive

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/callvault/callvault/internal/testdisk"
)

// damageFixture writes a small archive with recordings, notes and a user,
// closes it and returns its directory (archive.db, its slot file and the
// key file).
func damageFixture(t *testing.T) (dir string, ids []ID) {
	t.Helper()
	dir = t.TempDir()
	ctx := t.Context()
	a, err := Open(filepath.Join(dir, "archive.db"), Options{KeyFile: filepath.Join(dir, "archive.key"), KDF: FastKDF(), CommitInterval: time.Millisecond, InitialMmapSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		r := record(t, a, NewRecording{CallGUID: fmt.Sprintf("call-%d", i), FileName: fmt.Sprintf("r%d.pcap", i), User: "alice"},
			data(20000+30000*i, uint64(i)), data(300, uint64(i)), Final{})
		if err := a.Seal(ctx, r.ID, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := a.AddNote(ctx, r.ID, "alice", fmt.Sprintf("note %d", i)); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	// Users enough for a leaf of their own: the recordings' chunks are in
	// the chunk file, and the B+tree would be small.
	for _, login := range []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"} {
		if err := a.PutUser(ctx, User{Login: login, Role: RoleUser}, "correct horse battery"); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, ids
}

// pageInfo is one page of a bbolt file as its header says.
type pageInfo struct {
	id  uint64
	typ string // branch or leaf
}

// reachablePages lists the branch and leaf pages of the file at path that
// bbolt reaches from the root, and the page size. It reads a copy, so the
// file itself stays as it is.
func reachablePages(t *testing.T, path string) ([]pageInfo, int) {
	t.Helper()
	cp := filepath.Join(t.TempDir(), "probe.db")
	copyFile(t, path, cp)
	db, err := bolt.Open(cp, 0o600, &bolt.Options{ReadOnly: true, PreLoadFreelist: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var out []pageInfo
	err = db.View(func(tx *bolt.Tx) error {
		for id := 2; ; id++ {
			p, err := tx.Page(id)
			if err != nil {
				return err
			}
			if p == nil {
				return nil
			}
			if p.Type == "branch" || p.Type == "leaf" {
				out = append(out, pageInfo{id: uint64(id), typ: p.Type})
				id += p.OverflowCount // a free page's header is stale
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return out, db.Info().PageSize
}

// damagedCopy copies the fixture's files into a new directory and XORs
// mask into the archive file's byte at off.
func damagedCopy(t *testing.T, dir string, off int64, mask byte) string {
	t.Helper()
	return damagedFileCopy(t, dir, "archive.db", off, mask)
}

// damagedFileCopy is damagedCopy that damages the fixture's file name.
func damagedFileCopy(t *testing.T, dir, name string, off int64, mask byte) string {
	t.Helper()
	out := t.TempDir()
	for _, f := range []string{"archive.db", "archive.db" + slotSuffix, "archive.db" + chunkSuffix, "archive.key"} {
		copyFile(t, filepath.Join(dir, f), filepath.Join(out, f))
	}
	testdisk.FlipByte(t, filepath.Join(out, name), off, mask)
	return out
}

func openDir(dir string) (*Archive, error) {
	return Open(filepath.Join(dir, "archive.db"), Options{KeyFile: filepath.Join(dir, "archive.key"), KDF: FastKDF(),
		CommitInterval: time.Millisecond, InitialMmapSize: 1 << 20, LockTimeout: time.Second})
}

// exercise reads everything an appliance reads: lists, every recording's
// verification and bytes, the chain, users, notes. Errors are expected on
// a damaged file; panics are not (the test binary would die).
func exercise(ctx context.Context, a *Archive, ids []ID) {
	_, _, _ = a.List(ctx, Query{Limit: 100})
	for _, id := range ids {
		_, _ = a.Verify(ctx, id, nil)
		if b, err := a.OpenBlob(ctx, id, BlobOriginal); err == nil {
			_, _ = io.Copy(io.Discard, b)
		}
		_, _ = a.Notes(ctx, id)
	}
	_, _ = a.VerifyChain(ctx)
	_, _ = a.Users(ctx)
	_, _ = a.VerifyAudit(ctx)
}

// TestDamagedPageHeader flips bits in the header of every reachable
// branch and leaf page: Open refuses the file with an error naming the
// page, and never panics.
func TestDamagedPageHeader(t *testing.T) {
	dir, _ := damageFixture(t)
	pages, ps := reachablePages(t, filepath.Join(dir, "archive.db"))
	if len(pages) < 10 {
		t.Fatalf("only %d reachable pages: the fixture is too small to mean anything", len(pages))
	}
	for _, p := range pages {
		base := int64(p.id) * int64(ps)
		for _, flip := range []struct {
			off  int64
			mask byte
			want string
		}{
			{8, 0x40, "unexpected type/flags"},                         // flags: no such type
			{8, 0x13, "page"},                                          // flags: another type
			{0, 0x01, fmt.Sprintf("self identifies as %d", p.id^1)},    // id
			{0, 0x80, fmt.Sprintf("self identifies as %d", p.id^0x80)}, // id
		} {
			d := damagedCopy(t, dir, base+flip.off, flip.mask)
			a, err := openDir(d)
			if err == nil {
				a.Close()
				t.Fatalf("page %d (%s), byte %d ^ %#x: opened", p.id, p.typ, flip.off, flip.mask)
			}
			var ce *CorruptError
			if !errors.Is(err, ErrCorrupt) || !errors.As(err, &ce) || !strings.Contains(err.Error(), flip.want) || !strings.Contains(err.Error(), "damaged") {
				t.Fatalf("page %d (%s), byte %d ^ %#x: %v", p.id, p.typ, flip.off, flip.mask, err)
			}
		}
	}
}

// TestDamageWhileOpen damages leaf and branch pages under an open
// archive: every read returns an error wrapping ErrCorrupt, none panics,
// and the archive still closes.
func TestDamageWhileOpen(t *testing.T) {
	dir, ids := damageFixture(t)
	pages, ps := reachablePages(t, filepath.Join(dir, "archive.db"))
	ctx := t.Context()
	for _, p := range pages {
		d := damagedCopy(t, dir, 0, 0)
		a, err := openDir(d)
		if err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(filepath.Join(d, "archive.db"), os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		var fl [2]byte
		binary.LittleEndian.PutUint16(fl[:], 0x40)
		if _, err := f.WriteAt(fl[:], int64(p.id)*int64(ps)+8); err != nil {
			t.Fatal(err)
		}
		f.Close()
		exercise(ctx, a, ids)
		if _, err := a.VerifyChain(ctx); err != nil && !errors.Is(err, ErrCorrupt) {
			t.Errorf("page %d: VerifyChain: %v", p.id, err)
		}
		if err := a.Close(); err != nil {
			t.Errorf("page %d: close: %v", p.id, err)
		}
	}
}

// TestDamageFuzz flips random bits anywhere in the file (fixed seed,
// bounded): Open either refuses the file or everything that reads it
// returns, with errors at most.
func TestDamageFuzz(t *testing.T) {
	dir, ids := damageFixture(t)
	fi, err := os.Stat(filepath.Join(dir, "archive.db"))
	if err != nil {
		t.Fatal(err)
	}
	_, ps := reachablePages(t, filepath.Join(dir, "archive.db"))
	rng := rand.New(rand.NewPCG(1, 2))
	ctx := t.Context()
	trials := 160
	if testing.Short() {
		trials = 60
	}
	opened := 0
	for i := range trials {
		var off int64
		if i%2 == 0 { // a page header: where bbolt trusts most
			off = int64(rng.IntN(int(fi.Size())/ps))*int64(ps) + int64(rng.IntN(16))
		} else {
			off = rng.Int64N(fi.Size())
		}
		d := damagedCopy(t, dir, off, 1<<rng.IntN(8))
		a, err := openDir(d)
		if err != nil {
			continue
		}
		opened++
		exercise(ctx, a, ids)
		a.Close()
	}
	t.Logf("%d of %d damaged copies opened", opened, trials)
}

// TestCompactDamaged: compaction of a damaged file stops with ErrCorrupt
// and leaves the file as it was.
func TestCompactDamaged(t *testing.T) {
	dir, _ := damageFixture(t)
	pages, ps := reachablePages(t, filepath.Join(dir, "archive.db"))
	d := damagedCopy(t, dir, int64(pages[len(pages)/2].id)*int64(ps)+8, 0x40)
	path := filepath.Join(d, "archive.db")
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Compact(path, time.Second); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("compact: %v", err)
	}
	after, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(before, after) {
		t.Fatalf("file changed: %v", err)
	}
}
