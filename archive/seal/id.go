package seal

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
)

// ID identifies a recording: 16 random bytes, written as 32 lowercase hex
// digits.
type ID [16]byte

// NewID returns a new random ID.
func NewID() ID {
	var id ID
	_, _ = rand.Read(id[:]) // crypto/rand.Read never fails
	return id
}

// ParseID parses the 32 lowercase hex digits written by ID.String. Any
// other spelling (upper case, other lengths) is refused so that one
// recording has exactly one name.
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 2*len(id) {
		return ID{}, fmt.Errorf("archive: parse id: %d characters, want 32: %w", len(s), ErrInvalid)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return ID{}, fmt.Errorf("archive: parse id: not lowercase hex: %w", ErrInvalid)
		}
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return ID{}, fmt.Errorf("archive: parse id: %w", ErrInvalid)
	}
	return id, nil
}

// String returns the ID as 32 lowercase hex digits.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// IsZero reports whether id is the zero ID (never returned by NewID in
// practice).
func (id ID) IsZero() bool { return id == ID{} }

// MarshalText implements encoding.TextMarshaler.
func (id ID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (id *ID) UnmarshalText(b []byte) error {
	v, err := ParseID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}
