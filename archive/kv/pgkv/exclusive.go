package pgkv

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/jackc/pgx/v5"
)

// ErrWriterBusy reports that another process holds the writer lock.
var ErrWriterBusy = errors.New("pgkv: another process holds the writer lock")

// HoldWriterLock takes the writer lock for the session of a connection of
// its own, without waiting: every write transaction of any process then
// waits until release is called (a migration reading the store as a
// whole). It returns ErrWriterBusy when a write transaction holds it.
func (s *Store) HoldWriterLock(ctx context.Context) (release func(), err error) {
	c, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("pgkv: %w", err)
	}
	var ok bool
	if err := c.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, writerLock).Scan(&ok); err != nil {
		c.Release()
		return nil, fmt.Errorf("pgkv: lock: %w", err)
	}
	if !ok {
		c.Release()
		return nil, ErrWriterBusy
	}
	// The lock is the session's: the connection leaves the pool, so that
	// it never goes back to it still holding the lock when the unlock
	// fails, and closing it releases the lock in any case.
	conn := c.Hijack()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, writerLock)
		conn.Close(ctx)
	}, nil
}

// OtherSessions describes the client sessions connected to the store's
// database other than this store's own, one line each (application name
// and client address): daemons working on the archive, or anything else.
// Call it while this store runs no transaction.
func (s *Store) OtherSessions(ctx context.Context) ([]string, error) {
	var own []uint32
	for _, c := range s.pool.AcquireAllIdle(ctx) {
		own = append(own, c.Conn().PgConn().PID())
		c.Release()
	}
	rows, _ := s.pool.Query(ctx, `
		SELECT coalesce(application_name, '') || ' from ' || coalesce(host(client_addr), 'a local socket')
		FROM pg_stat_activity
		WHERE datname = current_database() AND backend_type = 'client backend'
		AND pid <> pg_backend_pid() AND NOT (pid = ANY($1::int[]))`, own)
	found, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("pgkv: sessions: %w", err)
	}
	for i, f := range found {
		found[i] = strings.TrimSpace(f)
	}
	return found, nil
}

// Size returns the bytes the store holds: the keys and values of its rows
// and the objects under its prefix (those released and not yet swept
// among them).
func (s *Store) Size(ctx context.Context) (int64, error) {
	var n int64
	if err := s.pool.QueryRow(ctx, `SELECT coalesce(sum(octet_length(key) + CASE WHEN kind = 2 THEN 0 ELSE coalesce(octet_length(value), 0) END), 0)::bigint FROM kv_rows`).Scan(&n); err != nil {
		return 0, fmt.Errorf("pgkv: size: %w", err)
	}
	if s.objects == nil {
		return n, nil
	}
	o := s.objects
	p := s3.NewListObjectsV2Paginator(o.c, &s3.ListObjectsV2Input{Bucket: &o.bucket, Prefix: &o.prefix})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return n, fmt.Errorf("pgkv: list objects: %w", err)
		}
		for _, obj := range page.Contents {
			if obj.Size != nil {
				n += *obj.Size
			}
		}
	}
	return n, nil
}
