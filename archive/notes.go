package archive

import (
	"bytes"
	"context"
	"crypto/cipher"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/callvault/callvault/archive/kv"
)

// Limits on notes.
const (
	MaxNoteText       = 16 << 10 // bytes of UTF-8
	maxNotesPerRecord = 1000
	infoNotes         = "callvault archive v1 notes"
	aadRecNote        = "callvault rec-note\x00"
	noteKeyLen        = 16 + 8
)

// Note is a user's note on a recording. Notes are encrypted under a
// subkey of the recording's data key, so deleting the recording
// (crypto-shredding) destroys them with it.
type Note struct {
	ID        uint64 // unique in the archive, increasing
	Recording ID
	Author    string // login
	Created   time.Time
	Updated   time.Time // equal to Created until edited
	Text      string
}

// MayChangeNote reports whether u may edit or delete note n: its author
// or an admin. The author is the login exactly as it wrote the note
// (logins are case-sensitive: "Alice" is not "alice").
func MayChangeNote(u *User, n *Note) bool {
	return u != nil && n != nil && (u.Role == RoleAdmin || n.Author == u.Login)
}

type noteRecord struct {
	V       int    `json:"v"`
	Author  string `json:"author"`
	Created int64  `json:"created"`
	Updated int64  `json:"updated"`
	Text    string `json:"text"`
}

func noteKey(rec ID, n uint64) []byte {
	return binary.BigEndian.AppendUint64(append([]byte(nil), rec[:]...), n)
}

func notesAEAD(dk []byte) (cipher.AEAD, error) { return subAEAD(dk, infoNotes) }

func validNoteText(text string) (string, error) {
	text = strings.TrimSpace(text)
	if text == "" || len(text) > MaxNoteText || !utf8.ValidString(text) || strings.ContainsRune(text, 0) {
		return "", fmt.Errorf("archive: note: empty, longer than %d bytes or not UTF-8 text: %w", MaxNoteText, ErrInvalid)
	}
	return text, nil
}

// notesTx returns the notes cipher of a recording inside tx (ErrNotFound
// when the recording or its data key is gone).
func (a *Archive) notesTx(tx kv.Tx, rec ID) (cipher.AEAD, error) {
	dk, err := a.dataKeyTx(tx, rec, tx.Bucket(bucketRecs).Get(rec[:]) != nil)
	if err != nil {
		return nil, err
	}
	defer clear(dk)
	return notesAEAD(dk)
}

func openNote(aead cipher.AEAD, rec ID, k, box []byte) (*Note, error) {
	plain, err := boxOpen(aead, boxAAD(aadRecNote, k), box)
	if err != nil {
		return nil, fmt.Errorf("archive: recording %s: note: %w", rec, ErrCorrupt)
	}
	var r noteRecord
	if err := json.Unmarshal(plain, &r); err != nil || r.V != curFormat {
		return nil, fmt.Errorf("archive: recording %s: note: %w", rec, ErrCorrupt)
	}
	return &Note{ID: binary.BigEndian.Uint64(k[16:]), Recording: rec, Author: r.Author,
		Created: timeOf(r.Created), Updated: timeOf(r.Updated), Text: r.Text}, nil
}

func sealNote(aead cipher.AEAD, k []byte, n *Note) ([]byte, error) {
	plain, err := json.Marshal(noteRecord{V: curFormat, Author: n.Author, Created: nsOf(n.Created), Updated: nsOf(n.Updated), Text: n.Text})
	if err != nil {
		return nil, err
	}
	return boxSeal(aead, boxAAD(aadRecNote, k), plain), nil
}

// putNote seals n and stores it under k in b.
func putNote(b kv.Bucket, aead cipher.AEAD, k []byte, n *Note) error {
	box, err := sealNote(aead, k, n)
	if err != nil {
		return err
	}
	return b.Put(k, box)
}

// AddNote adds a note by author (a login) to a recording. The text is
// trimmed; empty, over MaxNoteText or invalid UTF-8 is ErrInvalid. Access
// control is the caller's: see MayRead.
func (a *Archive) AddNote(ctx context.Context, rec ID, author, text string) (*Note, error) {
	text, err := validNoteText(text)
	if err != nil {
		return nil, err
	}
	if err := validLogin(author); err != nil {
		return nil, fmt.Errorf("archive: note author: %w", err)
	}
	return a.writeNote(ctx, "add note", rec, func(b kv.Bucket, _ cipher.AEAD) ([]byte, *Note, error) {
		n := 0
		c := b.Cursor()
		for k, _ := c.Seek(rec[:]); k != nil && bytes.HasPrefix(k, rec[:]); k, _ = c.Next() {
			n++
		}
		if n >= maxNotesPerRecord {
			return nil, nil, fmt.Errorf("archive: recording %s: more than %d notes: %w", rec, maxNotesPerRecord, ErrInvalid)
		}
		seq, err := b.NextSequence()
		if err != nil {
			return nil, nil, err
		}
		now := a.now().UTC()
		return noteKey(rec, seq), &Note{ID: seq, Recording: rec, Author: author, Created: now, Updated: now, Text: text}, nil
	})
}

// EditNote replaces a note's text and sets Updated; ErrNotFound when the
// recording or the note does not exist.
func (a *Archive) EditNote(ctx context.Context, rec ID, note uint64, text string) (*Note, error) {
	text, err := validNoteText(text)
	if err != nil {
		return nil, err
	}
	return a.writeNote(ctx, "edit note", rec, func(b kv.Bucket, aead cipher.AEAD) ([]byte, *Note, error) {
		k, n, err := noteIn(b, aead, rec, note)
		if err != nil {
			return nil, nil, err
		}
		n.Text, n.Updated = text, a.now().UTC()
		return k, n, nil
	})
}

// writeNote stores, in one transaction, the note that change makes from
// the recording's notes bucket and cipher under the key it returns;
// ErrNotFound when the recording or its data key is gone. what names the
// operation in the error.
func (a *Archive) writeNote(ctx context.Context, what string, rec ID, change func(b kv.Bucket, aead cipher.AEAD) ([]byte, *Note, error)) (*Note, error) {
	var out *Note
	err := a.update(ctx, func(tx kv.Tx) error {
		aead, err := a.notesTx(tx, rec)
		if err != nil {
			return err
		}
		b := tx.Bucket(bucketNotes)
		k, n, err := change(b, aead)
		if err != nil {
			return err
		}
		out = n
		return putNote(b, aead, k, n)
	})
	if err != nil {
		return nil, fmt.Errorf("archive: %s: %w", what, err)
	}
	return out, nil
}

// noteIn opens note of rec from the notes bucket b; ErrNotFound when it
// does not exist.
func noteIn(b kv.Bucket, aead cipher.AEAD, rec ID, note uint64) ([]byte, *Note, error) {
	k := noteKey(rec, note)
	box := b.Get(k)
	if box == nil {
		return nil, nil, fmt.Errorf("archive: recording %s: note %d: %w", rec, note, ErrNotFound)
	}
	n, err := openNote(aead, rec, k, box)
	return k, n, err
}

// DeleteNote deletes a note; ErrNotFound when it does not exist.
func (a *Archive) DeleteNote(ctx context.Context, rec ID, note uint64) error {
	err := a.update(ctx, func(tx kv.Tx) error {
		b := tx.Bucket(bucketNotes)
		k := noteKey(rec, note)
		if b.Get(k) == nil {
			return fmt.Errorf("archive: recording %s: note %d: %w", rec, note, ErrNotFound)
		}
		return b.Delete(k)
	})
	if err != nil {
		return fmt.Errorf("archive: delete note: %w", err)
	}
	return nil
}

// Note returns one note of a recording; ErrNotFound when it does not
// exist.
func (a *Archive) Note(ctx context.Context, rec ID, note uint64) (*Note, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out *Note
	err := a.view(func(tx kv.Tx) error {
		aead, err := a.notesTx(tx, rec)
		if err != nil {
			return err
		}
		_, out, err = noteIn(tx.Bucket(bucketNotes), aead, rec, note)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("archive: note: %w", err)
	}
	return out, nil
}

// Notes returns a recording's notes, oldest first; ErrNotFound when the
// recording does not exist.
func (a *Archive) Notes(ctx context.Context, rec ID) ([]Note, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []Note
	err := a.view(func(tx kv.Tx) error {
		aead, err := a.notesTx(tx, rec)
		if err != nil {
			return err
		}
		c := tx.Bucket(bucketNotes).Cursor()
		for k, v := c.Seek(rec[:]); k != nil && bytes.HasPrefix(k, rec[:]); k, v = c.Next() {
			if len(k) != noteKeyLen {
				return fmt.Errorf("archive: recording %s: note key: %w", rec, ErrCorrupt)
			}
			n, err := openNote(aead, rec, k, v)
			if err != nil {
				return err
			}
			out = append(out, *n)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("archive: notes: %w", err)
	}
	return out, nil
}
