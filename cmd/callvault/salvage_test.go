package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/archive/seal"
	"github.com/callvault/callvault/internal/testdisk"
)

// copyData copies a stopped daemon's data directory (archive and slot
// file) into a new one.
func copyData(t *testing.T, from string) string {
	t.Helper()
	to := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(to, 0o700); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return to
}

// leafPages returns the offsets of the reachable leaf pages of db, and the
// page size.
func leafPages(t *testing.T, db string) ([]int64, int) {
	t.Helper()
	probe := copyData(t, filepath.Dir(db))
	b, err := bolt.Open(filepath.Join(probe, filepath.Base(db)), 0o600, &bolt.Options{ReadOnly: true, PreLoadFreelist: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var offs []int64
	ps := b.Info().PageSize
	err = b.View(func(tx *bolt.Tx) error {
		for id := 2; ; id++ {
			p, err := tx.Page(id)
			if err != nil || p == nil {
				return err
			}
			if p.Type == "leaf" || p.Type == "branch" {
				if p.Type == "leaf" {
					offs = append(offs, int64(id)*int64(ps))
				}
				id += p.OverflowCount
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return offs, ps
}

// refLeafPage reports whether bbolt page p is a leaf of chunk references.
func refLeafPage(p []byte) bool {
	count := int(binary.LittleEndian.Uint16(p[10:]))
	if binary.LittleEndian.Uint16(p[8:]) != 0x02 || count < 2 || 16+16*count > len(p) {
		return false
	}
	for i := range count {
		e := p[16+16*i:]
		pos, ks, vs := int(binary.LittleEndian.Uint32(e[4:])), binary.LittleEndian.Uint32(e[8:]), binary.LittleEndian.Uint32(e[12:])
		v := 16 + 16*i + pos + int(ks)
		if ks != 8 || vs != 13 || v >= len(p) || p[v] != 0xfe {
			return false
		}
	}
	return true
}

// TestVerifySalvageDamage: `callvault verify --data` reports a recording
// hidden from every list by an edit of the file, and a damaged page as an
// error that points at salvage (no panic); `callvault salvage` copies what
// still authenticates, lists the rest and exits 2, and its output passes
// verify.
func TestVerifySalvageDamage(t *testing.T) {
	corpus := corpusDir(t)
	d := startDaemon(t, "")
	long := uploadCase(t, d, corpus, "pcmu_long", "0000000000000000000000000000aaaa-009033302ab1-1--bob.pcap")
	short := uploadCase(t, d, corpus, "pcma_bidir", "0000000000000000000000000000bbbb-009033302ab1-1--bob.pcap")
	d.stop()
	ctx := context.Background()
	db := filepath.Join(d.data, "callvault.db")
	verify := func(data string) (string, error) {
		var stdout bytes.Buffer
		err := run(ctx, []string{"verify", "--data", data, "--key-file", d.key}, &stdout, io.Discard)
		return stdout.String(), err
	}

	// The appliance's own API says the same once restarted on the file.
	apiVerify := func(t *testing.T, data string) string {
		t.Helper()
		b, err := os.ReadFile(d.key)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(filepath.Dir(data), "callvault.key"), b, 0o600); err != nil {
			t.Fatal(err)
		}
		d2 := startDaemon(t, data)
		defer d2.stop()
		resp, body := d2.get(t, "/api/v1/seal/verify")
		if resp.StatusCode != 200 {
			t.Fatalf("seal/verify: %s %s", resp.Status, body)
		}
		return string(body)
	}

	t.Run("time index key deleted", func(t *testing.T) {
		data := copyData(t, d.data)
		b, err := bolt.Open(filepath.Join(data, "callvault.db"), 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		shortID, _ := hex.DecodeString(short)
		err = b.Update(func(tx *bolt.Tx) error {
			bt := tx.Bucket([]byte("bytime"))
			var victim []byte
			_ = bt.ForEach(func(k, _ []byte) error {
				if strings.HasSuffix(string(k), string(shortID)) {
					victim = bytes.Clone(k)
				}
				return nil
			})
			if victim == nil {
				return errors.New("no time key")
			}
			return bt.Delete(victim)
		})
		b.Close()
		if err != nil {
			t.Fatal(err)
		}
		out, err := verify(data)
		var ee exitError
		if !errors.As(err, &ee) || ee != 2 || !strings.Contains(out, "missing from the time index") || !strings.Contains(out, short+"\tok") {
			t.Fatalf("%v\n%s", err, out)
		}
		if body := apiVerify(t, data); !strings.Contains(body, `"valid": false`) || !strings.Contains(body, "missing from the time index") {
			t.Fatalf("seal/verify: %s", body)
		}
	})

	t.Run("newest recording and its seal cut off", func(t *testing.T) {
		data := copyData(t, d.data)
		b, err := bolt.Open(filepath.Join(data, "callvault.db"), 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		id, _ := hex.DecodeString(short) // uploaded last: the newest seal
		err = b.Update(func(tx *bolt.Tx) error { return cutNewest(tx, id) })
		b.Close()
		if err != nil {
			t.Fatal(err)
		}
		out, err := verify(data)
		var ee exitError
		if !errors.As(err, &ee) || ee != 2 || !strings.Contains(out, "chain head record is not signed") || strings.Contains(out, short) {
			t.Fatalf("%v\n%s", err, out)
		}
		if body := apiVerify(t, data); !strings.Contains(body, `"valid": false`) || !strings.Contains(body, "chain head record is not signed") {
			t.Fatalf("seal/verify: %s", body)
		}
	})

	t.Run("damaged page", func(t *testing.T) {
		data := copyData(t, d.data)
		offs, _ := leafPages(t, db)
		if len(offs) == 0 {
			t.Fatal("no leaf")
		}
		testdisk.FlipByte(t, filepath.Join(data, "callvault.db"), offs[0]+8, 0x40)
		_, err := verify(data)
		if err == nil || !strings.Contains(err.Error(), "damaged") || !strings.Contains(err.Error(), "callvault salvage --data "+data) {
			t.Fatalf("%v", err)
		}
		// serve refuses to start, with the same advice.
		var out syncBuffer
		err = serve(ctx, serveOptions{data: data, listen: "127.0.0.1:0", keyFile: d.key, ready: func(string) { t.Error("serve started") }}, &out, &out)
		if err == nil || !strings.Contains(err.Error(), "damaged") || !strings.Contains(err.Error(), "callvault salvage --data "+data) {
			t.Fatalf("serve: %v\n%s", err, out.String())
		}
	})

	t.Run("chunk references damaged", func(t *testing.T) {
		// A leaf of the chunks table (references of 8-byte keys, 13-byte
		// values from 0xfe) damaged: its chunks are found again in the
		// chunk file and nothing is lost.
		data := copyData(t, d.data)
		offs, ps := leafPages(t, db)
		raw, err := os.ReadFile(db)
		if err != nil {
			t.Fatal(err)
		}
		victim := int64(-1)
		for _, off := range offs {
			if p := raw[off : off+int64(ps)]; refLeafPage(p) {
				victim = off
				break
			}
		}
		if victim < 0 {
			t.Fatal("no leaf of chunk references")
		}
		testdisk.FlipByte(t, filepath.Join(data, "callvault.db"), victim+8, 0x40)
		out := filepath.Join(t.TempDir(), "salvaged")
		var stdout bytes.Buffer
		err = run(ctx, []string{"salvage", "--data", data, "--key-file", d.key, "--out", out}, &stdout, io.Discard)
		if err != nil || strings.Contains(stdout.String(), "LOST") || !strings.Contains(stdout.String(), "found again in the chunk file") {
			t.Fatalf("%v\n%s", err, stdout.String())
		}
		t.Log(stdout.String())
		res, err := verify(out)
		if err != nil || !strings.Contains(res, "chain\tok") || !strings.Contains(res, long+"\tok") || !strings.Contains(res, short+"\tok") {
			t.Fatalf("verify of the salvaged archive: %v\n%s", err, res)
		}
	})

	t.Run("salvage", func(t *testing.T) {
		data := copyData(t, d.data)
		// Damage the bytes of one chunk value (the chunk file's first,
		// past its header): a recording whose chunk no longer
		// authenticates.
		testdisk.FlipByte(t, archive.ChunkFile(filepath.Join(data, "callvault.db")), 4096+1000, 0x08)
		out := filepath.Join(t.TempDir(), "salvaged")
		var stdout bytes.Buffer
		err := run(ctx, []string{"salvage", "--data", data, "--key-file", d.key, "--out", out}, &stdout, io.Discard)
		var ee exitError
		if !errors.As(err, &ee) || ee != 2 || strings.Count(stdout.String(), "\tLOST\t") != 1 || !strings.Contains(stdout.String(), "2 user(s)") {
			t.Fatalf("%v\n%s", err, stdout.String())
		}
		lostLong := strings.Contains(stdout.String(), long+"\tLOST")
		if !lostLong && !strings.Contains(stdout.String(), short+"\tLOST") {
			t.Fatalf("neither recording lost:\n%s", stdout.String())
		}
		res, err := verify(out)
		if err != nil || !strings.Contains(res, "chain\tok") || strings.Count(res, "\tok") != 2 {
			t.Fatalf("verify of the salvaged archive: %v\n%s", err, res)
		}
		// Run into a non-empty directory: refused.
		err = run(ctx, []string{"salvage", "--data", data, "--key-file", d.key, "--out", out}, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "not empty") {
			t.Fatalf("second salvage: %v", err)
		}
	})
}

// cutNewest removes recording id, the newest sealed, and the chain from
// its seal on (its exports entry comes after it), and writes a head
// naming the entry before, as someone with the file and bbolt but no key
// would: the hash of a chain entry is the sha256 of its stored value.
func cutNewest(tx *bolt.Tx, id []byte) error {
	for _, name := range []string{"recs", "dkeys", "unsealed", "unfinished", "protected", "exportsdue"} {
		if err := tx.Bucket([]byte(name)).Delete(id); err != nil {
			return err
		}
	}
	for _, name := range []string{"bytime", "byretention", "bycall", "byorig", "bywho", "chunkidx"} {
		bk := tx.Bucket([]byte(name))
		var keys [][]byte
		_ = bk.ForEach(func(k, v []byte) error {
			if bytes.HasPrefix(k, id) || bytes.HasSuffix(k, id) || (name == "bywho" && bytes.Contains(k, id)) {
				keys = append(keys, bytes.Clone(k))
				if name == "chunkidx" {
					if err := tx.Bucket([]byte("chunks")).Delete(bytes.Clone(v)); err != nil {
						return err
					}
				}
			}
			return nil
		})
		for _, k := range keys {
			if err := bk.Delete(k); err != nil {
				return err
			}
		}
	}
	chain := tx.Bucket([]byte("chain"))
	var cut [][]byte // the victim's seal and every entry after it
	_ = chain.ForEach(func(k, v []byte) error {
		e, err := seal.ParseEntry(v)
		if len(cut) > 0 || (err == nil && e.Type == seal.TypeSeal && bytes.Equal(e.ID[:], id)) {
			cut = append(cut, bytes.Clone(k))
		}
		return nil
	})
	if len(cut) == 0 {
		return errors.New("no seal of the newest recording")
	}
	for _, k := range cut {
		if err := chain.Delete(k); err != nil {
			return err
		}
	}
	prev := binary.BigEndian.AppendUint64(nil, binary.BigEndian.Uint64(cut[0])-1)
	h := sha256.Sum256(chain.Get(prev))
	return tx.Bucket([]byte("meta")).Put([]byte("chain.head"), append(prev, h[:]...))
}
