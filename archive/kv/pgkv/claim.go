package pgkv

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// Claims mark what a process is working on, for the other processes on
// the database to see, and end with the process: each is a session-level
// advisory lock held on one connection the store keeps for them, so a
// process that dies (kill -9 included) drops its claims with its
// connection. A claim's key is hashed to the lock's 64-bit number as a
// named lock's is (lockKey), in a space of its own.
type claims struct {
	mu   sync.Mutex
	conn *pgx.Conn // nil until the first claim
}

func claimLock(key []byte) int64 { return lockKey("claim\x00" + string(key)) }

// claimTimeout bounds a statement on the claims' connection. The
// statements run apart from the caller's context: pgx closes a connection
// whose query is cancelled, and every claim of the process would end with
// it because one request went away.
const claimTimeout = 10 * time.Second

func claimContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), claimTimeout)
}

// conn returns the claims' connection, taken out of the pool at the
// first claim. It is called with mu held.
func (s *Store) claimConn(ctx context.Context) (*pgx.Conn, error) {
	if s.claims.conn != nil {
		return s.claims.conn, nil
	}
	if s.closed.Load() {
		return nil, ErrClosed
	}
	c, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("pgkv: claim: %w", err)
	}
	s.claims.conn = c.Hijack()
	return s.claims.conn, nil
}

// TryClaim claims key for this store unless another store (another
// process, or another Store in this one) holds it; it reports whether
// it did. Claims are counted: this store's second claim of a key holds
// until its second Release.
func (s *Store) TryClaim(ctx context.Context, key []byte) (bool, error) {
	ctx, cancel := claimContext(ctx)
	defer cancel()
	s.claims.mu.Lock()
	defer s.claims.mu.Unlock()
	c, err := s.claimConn(ctx)
	if err != nil {
		return false, err
	}
	var got bool
	if err := c.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, claimLock(key)).Scan(&got); err != nil {
		return false, s.claimFailed("claim", err)
	}
	return got, nil
}

// Release ends one claim of key by this store.
func (s *Store) Release(ctx context.Context, key []byte) error {
	ctx, cancel := claimContext(ctx)
	defer cancel()
	s.claims.mu.Lock()
	defer s.claims.mu.Unlock()
	if s.claims.conn == nil {
		return nil
	}
	if _, err := s.claims.conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, claimLock(key)); err != nil {
		return s.claimFailed("release claim", err)
	}
	return nil
}

// claimFailed returns the error of a statement on the claims' connection.
// A connection that ended took every claim of this process with it: the
// error says so, since uploads in progress are then no longer protected
// from a daemon that starts. It is called with mu held.
func (s *Store) claimFailed(what string, err error) error {
	if !s.claims.conn.IsClosed() {
		return fmt.Errorf("pgkv: %s: %w", what, err)
	}
	s.dropClaims(context.Background())
	return fmt.Errorf("pgkv: %s: %w (the claims' connection ended, and with it every claim of this process)", what, err)
}

// dropClaims ends every claim and closes the claims' connection. The
// claims are released first: the server ends a closed session some time
// after, and a daemon restarted at once must find its predecessor's
// uploads free to recover. It is called with mu held.
func (s *Store) dropClaims(ctx context.Context) {
	ctx, cancel := claimContext(ctx)
	defer cancel()
	if s.claims.conn != nil {
		s.claims.conn.Exec(ctx, `SELECT pg_advisory_unlock_all()`)
		s.claims.conn.Close(ctx)
		s.claims.conn = nil
	}
}
