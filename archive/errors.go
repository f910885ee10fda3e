package archive

import (
	"errors"
	"fmt"
	"strings"
	"syscall"
	"time"

	"github.com/callvault/callvault/archive/seal"
)

// Errors returned by the archive. They are wrapped with the operation;
// callers test them with errors.Is. None of them ever carries key material
// or passwords.
var (
	// ErrNotFound reports a recording, blob or user that does not exist
	// (or no longer exists, after Delete).
	ErrNotFound = errors.New("archive: not found")
	// ErrExists reports a user that cannot be created because one with
	// the same login, ignoring case, exists.
	ErrExists = errors.New("archive: exists")
	// ErrCorrupt reports stored bytes that fail authentication or do not
	// decode: tampering, a damaged disk, or a bug.
	ErrCorrupt = seal.ErrCorrupt
	// ErrWrongKey reports that the key file or passphrase does not open
	// this archive.
	ErrWrongKey = errors.New("archive: wrong key")
	// ErrBadCredentials reports a failed Authenticate. It does not say
	// whether the login or the password was wrong.
	ErrBadCredentials = errors.New("archive: bad credentials")
	// ErrClosed reports use of an Archive, Writer or Blob after Close.
	ErrClosed = errors.New("archive: closed")
	// ErrInvalid reports a malformed argument: an ID, a cursor, a login,
	// an oversized field.
	ErrInvalid = seal.ErrInvalid
	// ErrState reports an operation that the recording's state does not
	// allow, such as sealing an unfinished recording twice or resuming a
	// finished one.
	ErrState = errors.New("archive: wrong recording state")
	// ErrProtected reports a delete, bin or purge of a recording under
	// legal hold (Recording.Protected).
	ErrProtected = errors.New("archive: recording is protected")
	// ErrLimited reports credentials refused without being checked,
	// because too many attempts failed (LimitedError says how long to
	// wait). It does not say whether the login exists.
	ErrLimited = errors.New("archive: too many failed attempts")
	// ErrNoSpace reports a write refused because the disk holding the
	// archive is full (ENOSPC) or its quota is used up (EDQUOT). Nothing
	// of the failed commit is stored and everything committed before is
	// intact; writes work again once space is freed. The error also
	// matches the system error it wraps.
	ErrNoSpace = errors.New("archive: no space left for the archive")
)

// LimitedError reports an attempt refused by the guessing limit. It wraps
// ErrLimited.
type LimitedError struct {
	RetryAfter time.Duration // the earliest the next attempt is checked
	// First is set on the first refusal of a waiting period (the archive
	// logs it), so a door can audit refusals without writing one record
	// per refused request.
	First bool
}

func (e *LimitedError) Error() string {
	return fmt.Sprintf("archive: too many failed attempts; retry after %ds", e.RetrySeconds())
}

func (e *LimitedError) Unwrap() error { return ErrLimited }

// RetrySeconds is RetryAfter in whole seconds, rounded up, at least 1: the
// value of an HTTP Retry-After header.
func (e *LimitedError) RetrySeconds() int {
	return max(1, int((e.RetryAfter+time.Second-1)/time.Second))
}

// noSpace wraps err with ErrNoSpace when it is the disk being full.
// bbolt formats some I/O errors with %s (growing the file), so their
// text is checked too.
func noSpace(err error) error {
	if err == nil || errors.Is(err, ErrNoSpace) {
		return err
	}
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) ||
		strings.Contains(err.Error(), syscall.ENOSPC.Error()) || strings.Contains(err.Error(), syscall.EDQUOT.Error()) {
		return fmt.Errorf("%w: %w", ErrNoSpace, err)
	}
	return err
}

// ChunkError reports a chunk of a blob that is missing, out of place or
// fails authentication. It wraps ErrCorrupt (or ErrNotFound when the whole
// recording is gone).
type ChunkError struct {
	ID     ID
	Kind   BlobKind
	Index  uint64
	Reason string // e.g. "authentication failed", "missing"
	Err    error
}

func (e *ChunkError) Error() string {
	return fmt.Sprintf("archive: recording %s %s chunk %d: %s", e.ID, e.Kind, e.Index, e.Reason)
}

func (e *ChunkError) Unwrap() error { return e.Err }
