package archive

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/callvault/callvault/archive/kv"
	"github.com/callvault/callvault/archive/kv/boltkv"
	"github.com/callvault/callvault/internal/testdisk"
)

// salvageFixture writes an archive with sealed, unsealed, protected and
// binned recordings, notes, users and settings, and closes it. It returns
// the directory and each recording's original bytes.
func salvageFixture(t *testing.T) (string, map[ID][]byte) {
	t.Helper()
	return salvageFixtureChunks(t, ChunkSize)
}

// salvageFixtureChunks is salvageFixture with recordings of chunks of
// csize bytes.
func salvageFixtureChunks(t *testing.T, csize int) (string, map[ID][]byte) {
	t.Helper()
	old := createChunkSize
	createChunkSize = csize
	defer func() { createChunkSize = old }()
	dir := t.TempDir()
	ctx := t.Context()
	a, err := openDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	origs := map[ID][]byte{}
	var ids []ID
	for i := range 8 {
		orig := data(40000+50000*i, uint64(i))
		r := record(t, a, NewRecording{CallGUID: fmt.Sprintf("call-%d", i), FileName: fmt.Sprintf("r%d.pcap", i), User: "alice"},
			orig, data(200+i, uint64(i)), Final{})
		origs[r.ID] = orig
		ids = append(ids, r.ID)
		if i != 6 { // one stays unsealed
			if err := a.Seal(ctx, r.ID, nil); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := a.AddNote(ctx, r.ID, "alice", fmt.Sprintf("note on %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.SetProtected(ctx, ids[2], true); err != nil {
		t.Fatal(err)
	}
	if err := a.Bin(ctx, ids[3], "admin"); err != nil {
		t.Fatal(err)
	}
	// A deleted recording: its tombstone is carried over, it is not.
	gone := record(t, a, NewRecording{}, data(100, 99), nil, Final{})
	if err := a.Seal(ctx, gone.ID, nil); err != nil {
		t.Fatal(err)
	}
	if err := a.Delete(ctx, gone.ID, "admin", "test"); err != nil {
		t.Fatal(err)
	}
	for _, login := range []string{"alice", "bob"} {
		if err := a.PutUser(ctx, User{Login: login, Role: RoleUser}, "correct horse battery"); err != nil {
			t.Fatal(err)
		}
	}
	st, err := a.Settings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st.PBXName = "salvage test PBX"
	if err := a.PutSettings(ctx, st); err != nil {
		t.Fatal(err)
	}
	if err := a.Audit(ctx, AuditEvent{Actor: "alice", Action: "login", OK: true}); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, origs
}

func salvageInto(t *testing.T, dir string) (*SalvageResult, *Archive) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "new", "archive.db")
	res, err := Salvage(t.Context(), filepath.Join(dir, "archive.db"), out,
		Options{KeyFile: filepath.Join(dir, "archive.key"), KDF: FastKDF(), CommitInterval: time.Millisecond, InitialMmapSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(out, Options{KeyFile: filepath.Join(dir, "archive.key"), KDF: FastKDF(), InitialMmapSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return res, b
}

// checkSalvaged checks the new archive: every recovered recording has its
// bytes, verifies and is sealed as before (or again); users, settings and
// notes are there; the chain verifies and names each lost sealed
// recording in a tombstone by salvage.
func checkSalvaged(t *testing.T, res *SalvageResult, b *Archive, origs map[ID][]byte) {
	t.Helper()
	ctx := t.Context()
	if !res.Chain.Valid {
		t.Fatalf("new chain: %q", res.Chain.Problems)
	}
	if v, err := b.VerifyChain(ctx); err != nil || !v.Valid {
		t.Fatalf("new chain after reopen: %v %q", err, v.Problems)
	}
	for _, id := range res.Recovered {
		r, err := b.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		bl, err := b.OpenBlob(ctx, id, BlobOriginal)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(bl)
		if err != nil || !bytes.Equal(got, origs[id]) {
			t.Fatalf("recording %s: %d bytes, %v", id, len(got), err)
		}
		v, err := b.Verify(ctx, id, nil)
		if err != nil {
			t.Fatal(err)
		}
		if r.Seal != nil && !v.Valid {
			t.Fatalf("recording %s: %q", id, v.Problems)
		}
		notes, err := b.Notes(ctx, id)
		if err != nil || len(notes) != 1 {
			t.Fatalf("recording %s: notes %v %v", id, notes, err)
		}
	}
	for id := range origs {
		if !slices.Contains(res.Recovered, id) && !slices.ContainsFunc(res.Lost, func(l SalvageLoss) bool { return l.ID == id && l.Reason != "" }) {
			t.Errorf("recording %s neither recovered nor listed as lost", id)
		}
	}
	users, err := b.Users(ctx)
	if err != nil || len(users) != 2 {
		t.Fatalf("users: %v %v", users, err)
	}
	if _, err := b.Authenticate(ctx, netip.IPv6Loopback(), "bob", "correct horse battery"); err != nil {
		t.Fatalf("bob's password: %v", err)
	}
	st, err := b.Settings(ctx)
	if err != nil || st.PBXName != "salvage test PBX" {
		t.Fatalf("settings: %+v %v", st, err)
	}
	if v, err := b.VerifyAudit(ctx); err != nil || !v.Valid {
		t.Fatalf("audit: %v %q", err, v.Problems)
	}
	// A new recording is sealed on the salvaged chain.
	r := record(t, b, NewRecording{}, data(10, 1), nil, Final{})
	if err := b.Seal(ctx, r.ID, nil); err != nil {
		t.Fatal(err)
	}
}

func TestSalvageIntact(t *testing.T) {
	dir, origs := salvageFixture(t)
	res, b := salvageInto(t, dir)
	if !res.Complete() || len(res.Recovered) != len(origs) || res.Resealed != 0 || res.Tombstones != 0 {
		t.Fatalf("%+v", res)
	}
	checkSalvaged(t, res, b, origs)
	ctx := t.Context()
	// Hold, bin and the deferred seal carry over.
	bin, _, err := b.RecycleBin(ctx, Query{})
	if err != nil || len(bin) != 1 {
		t.Fatalf("bin: %v %v", bin, err)
	}
	if u, err := b.Unsealed(ctx); err != nil || len(u) != 1 {
		t.Fatalf("unsealed: %v %v", u, err)
	}
}

// TestSalvageDamagedChunkPage damages the page header of a leaf holding
// chunk references (the last, so that some recordings have none in it):
// the file no longer opens, and salvage finds every chunk the leaf
// referenced in the chunk file by its content, so every recording is
// recovered. With one of those values damaged too, its recording is lost
// (and tombstoned when sealed) and the others still recovered. Chunks of
// 16 KiB make the references fill more than one leaf.
func TestSalvageDamagedChunkPage(t *testing.T) {
	dir, origs := salvageFixtureChunks(t, 16<<10)
	pages, ps := reachablePages(t, filepath.Join(dir, "archive.db"))
	var victim *pageInfo
	for i := range pages {
		if pages[i].typ == "leaf" && refLeaf(t, dir, pages[i].id, ps) {
			if victim == nil || leafFirstKey(t, dir, pages[i].id, ps) > leafFirstKey(t, dir, victim.id, ps) {
				victim = &pages[i]
			}
		}
	}
	if victim == nil {
		t.Fatal("no leaf of chunk references found")
	}
	from := leafFirstKey(t, dir, victim.id, ps)
	// Which recordings are unsealed decides which losses are tombstoned;
	// which have chunks referenced from the leaf, which need their chunks
	// found again.
	intact, err := openDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	unsealed, err := intact.Unsealed(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	inLeaf := map[ID]bool{}
	stray := 0
	var someSeq []byte // one of the chunks the leaf references
	var someID ID
	err = intact.view(func(tx kv.Tx) error {
		return tx.Bucket(bucketChunkIndex).ForEach(func(k, v []byte) error {
			if len(k) == chunkKeyLen && len(v) == seqKeyLen && binary.BigEndian.Uint64(v) >= from {
				inLeaf[ID(k[:16])] = true
				stray++
				someSeq, someID = bytes.Clone(v), ID(k[:16])
			}
			return nil
		})
	})
	var someOff int64
	if err == nil {
		err = intact.view(func(tx kv.Tx) error {
			off, _, ok := boltkv.ParseRef(boltkv.BoltTx(tx).Bucket(bucketChunks).Get(someSeq))
			if !ok {
				return errors.New("the chunk's value is not in the chunk file")
			}
			someOff = off
			return nil
		})
	}
	intact.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(inLeaf) == 0 || len(inLeaf) == len(origs) {
		t.Fatalf("the leaf references chunks of %d of %d recordings: the test proves nothing", len(inLeaf), len(origs))
	}
	d := damagedCopy(t, dir, int64(victim.id)*int64(ps)+8, 0x40)
	if a, err := openDir(d); err == nil {
		a.Close()
		t.Fatal("damaged file opened")
	}
	res, b := salvageInto(t, d)
	if !res.Complete() || len(res.Recovered) != len(origs) || res.StrayChunks != stray || res.Tombstones != 0 {
		t.Fatalf("recovered %d of %d, %d of %d chunks found again, lost %+v, problems %q", len(res.Recovered), len(origs), res.StrayChunks, stray, res.Lost, res.Problems)
	}
	checkSalvaged(t, res, b, origs)

	// One of the chunks the leaf referenced is damaged in the chunk file
	// as well: its recording is lost, the others are not.
	testdisk.FlipByte(t, filepath.Join(d, "archive.db"+chunkSuffix), someOff+100, 0x10)
	res, b = salvageInto(t, d)
	if res.Complete() || len(res.Lost) != 1 || res.Lost[0].ID != someID || len(res.Recovered) != len(origs)-1 {
		t.Fatalf("recovered %d, lost %+v (want %s), problems %q", len(res.Recovered), res.Lost, someID, res.Problems)
	}
	checkSalvaged(t, res, b, origs)
	// A lost sealed recording gets a tombstone; a lost unsealed one was
	// never on the chain.
	if want := 1 - len(slices.DeleteFunc(slices.Clone(unsealed), func(id ID) bool { return id != someID })); res.Tombstones != want {
		t.Fatalf("%d tombstones, want %d: %+v", res.Tombstones, want, res)
	}
	if res.Tombstones == 0 {
		return
	}
	who, why, err := b.TombstoneNote(t.Context(), res.Chain.HeadSeq)
	if err != nil || who != "salvage" || why == "" {
		t.Fatalf("tombstone: %q %q %v", who, why, err)
	}
}

// TestSalvageDamagedChunkBytes flips a bit inside a chunk value: the file
// opens, the recording fails authentication and salvage leaves it out.
func TestSalvageDamagedChunkBytes(t *testing.T) {
	dir, origs := salvageFixture(t)
	// The first value of the chunk file: the first recording's first
	// chunk, past its header.
	d := damagedFileCopy(t, dir, "archive.db"+chunkSuffix, 4096+1000, 0x10)
	res, b := salvageInto(t, d)
	if len(res.Lost) != 1 || len(res.Recovered) != len(origs)-1 {
		t.Fatalf("recovered %d, lost %+v", len(res.Recovered), res.Lost)
	}
	checkSalvaged(t, res, b, origs)
}

// readPage returns page id of the fixture's archive file.
func readPage(t *testing.T, dir string, id uint64, ps int) []byte {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "archive.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := make([]byte, ps)
	if _, err := f.ReadAt(p, int64(id)*int64(ps)); err != nil {
		t.Fatal(err)
	}
	return p
}

// refLeaf reports whether page id of the fixture's archive file is a leaf
// of chunk references (keys of 8 bytes, values of 13 from 0xfe).
func refLeaf(t *testing.T, dir string, id uint64, ps int) bool {
	t.Helper()
	p := readPage(t, dir, id, ps)
	count := int(binary.LittleEndian.Uint16(p[10:]))
	if count < 2 || 16+16*count > ps {
		return false
	}
	for i := range count {
		e := p[16+16*i:]
		pos, ks, vs := int(binary.LittleEndian.Uint32(e[4:])), binary.LittleEndian.Uint32(e[8:]), binary.LittleEndian.Uint32(e[12:])
		v := 16 + 16*i + pos + int(ks)
		if ks != 8 || vs != 13 || v >= ps || p[v] != 0xfe {
			return false
		}
	}
	return true
}

// leafFirstKey returns the first key of leaf id of the fixture's archive
// file as a big-endian number (a chunk reference leaf's first sequence).
func leafFirstKey(t *testing.T, dir string, id uint64, ps int) uint64 {
	t.Helper()
	p := readPage(t, dir, id, ps)
	pos := int(binary.LittleEndian.Uint32(p[16+4:]))
	return binary.BigEndian.Uint64(p[16+pos:])
}

// TestSalvageBrokenChain removes a chain entry from the middle: the
// entries before it are kept as they were, the recordings sealed after it
// are sealed again on the new chain, and the loss is reported.
func TestSalvageBrokenChain(t *testing.T) {
	dir, origs := salvageFixture(t)
	db := openBolt(t, filepath.Join(dir, "archive.db"))
	if err := db.Update(func(tx kv.Tx) error { return tx.Bucket(bucketChain).Delete(seqKey(3)) }); err != nil {
		t.Fatal(err)
	}
	db.Close()
	res, b := salvageInto(t, dir)
	if res.ChainKept != 2 || res.Resealed != 5 || len(res.Lost) != 0 || len(res.Recovered) != len(origs) {
		t.Fatalf("%+v", res)
	}
	if !slices.ContainsFunc(res.Problems, func(p string) bool { return strings.Contains(p, "kept entries 1..2") }) {
		t.Fatalf("problems %q", res.Problems)
	}
	// Seven recordings were sealed (entries 1..7): the five after the
	// gap, the one whose entry was removed among them, are sealed again.
	checkSalvaged(t, res, b, origs)
}

// TestSalvageFuzz damages random bytes (fixed seed, bounded) and salvages:
// never a panic; when the keyring still reads, the new archive's chain
// verifies and every recording it holds verifies.
func TestSalvageFuzz(t *testing.T) {
	dir, origs := salvageFixture(t)
	fi, err := os.Stat(filepath.Join(dir, "archive.db"))
	if err != nil {
		t.Fatal(err)
	}
	_, ps := reachablePages(t, filepath.Join(dir, "archive.db"))
	rng := rand.New(rand.NewPCG(3, 4))
	trials := 40
	if testing.Short() {
		trials = 10
	}
	for i := range trials {
		var off int64
		if i%2 == 0 {
			off = int64(rng.IntN(int(fi.Size())/ps))*int64(ps) + int64(rng.IntN(16))
		} else {
			off = rng.Int64N(fi.Size())
		}
		d := damagedCopy(t, dir, off, 1<<rng.IntN(8))
		out := filepath.Join(t.TempDir(), "new.db")
		res, err := Salvage(t.Context(), filepath.Join(d, "archive.db"), out,
			Options{KeyFile: filepath.Join(d, "archive.key"), KDF: FastKDF(), CommitInterval: time.Millisecond, InitialMmapSize: 1 << 20})
		if err != nil {
			t.Logf("offset %d: %v", off, err)
			continue
		}
		if !res.Chain.Valid {
			t.Fatalf("offset %d: new chain: %q", off, res.Chain.Problems)
		}
		b, err := Open(out, Options{KeyFile: filepath.Join(d, "archive.key"), KDF: FastKDF(), InitialMmapSize: 1 << 20})
		if err != nil {
			t.Fatalf("offset %d: %v", off, err)
		}
		for _, id := range res.Recovered {
			if v, err := b.Verify(t.Context(), id, nil); err != nil || (v.Sealed && !v.Valid) {
				t.Errorf("offset %d: %s: %v %v", off, id, err, v)
			}
		}
		if len(res.Recovered)+len(res.Lost) < len(origs) {
			t.Errorf("offset %d: %d recovered + %d lost < %d", off, len(res.Recovered), len(res.Lost), len(origs))
		}
		b.Close()
	}
}
