package pgkv

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/jackc/pgx/v5"
)

// noteShredded queues, before the statement that releases key's object
// in the batch, a read of the object's name, kept for removal right
// after commit when b is a shred bucket. Statements of a batch run in
// order, so the read sees the row the release replaces or deletes.
func (b *bucket) noteShredded(key []byte) {
	if !b.shred {
		return
	}
	t := b.t
	t.batch.Queue(`SELECT value FROM kv_rows WHERE bucket = $1 AND key = $2 AND kind = 2`, b.id, key).
		Query(func(rows pgx.Rows) error {
			names, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
			t.shredded = append(t.shredded, names...)
			return err
		})
}

// OnShredFailure sets the function told when an object of a shred bucket
// could not be removed right after the commit that released it; it stays
// listed in kv_released and Sweep removes it later.
func (s *Store) OnShredFailure(fn func(error)) { s.shredFailed.Store(&fn) }

// shredReleased removes, after commit, the objects of shred buckets the
// transaction released, and their kv_released entries.
func (s *Store) shredReleased(names [][]byte) {
	if len(names) == 0 {
		return
	}
	ctx := context.Background()
	var gone [][]byte
	var failed error
	for _, n := range names {
		if err := s.objects.remove(ctx, string(n)); err != nil {
			failed = errors.Join(failed, err)
			continue
		}
		gone = append(gone, n)
	}
	if len(gone) > 0 {
		if _, err := s.pool.Exec(ctx, `DELETE FROM kv_released WHERE name = ANY($1)`, gone); err != nil {
			// Removed already; Sweep removes the entries (a second
			// removal is no error).
			failed = errors.Join(failed, fmt.Errorf("pgkv: released objects: %w", err))
		}
	}
	if failed != nil {
		if fn := s.shredFailed.Load(); fn != nil {
			(*fn)(fmt.Errorf("pgkv: shredded objects left to Sweep: %w", failed))
		}
	}
}

// ErrVersionedBucket reports an S3 bucket that keeps old versions of
// objects (versioning Enabled or Suspended, or Object Lock): a deleted
// object would survive as a noncurrent version.
var ErrVersionedBucket = errors.New("pgkv: the S3 bucket keeps object versions; use a bucket created without versioning and without Object Lock")

// checkUnversioned asks the bucket whether it keeps versions.
func (o *objectStore) checkUnversioned(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	v, verr := o.c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: &o.bucket})
	var status types.BucketVersioningStatus
	if v != nil {
		status = v.Status
	}
	l, lerr := o.c.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: &o.bucket})
	var lock types.ObjectLockEnabled
	if l != nil && l.ObjectLockConfiguration != nil {
		lock = l.ObjectLockConfiguration.ObjectLockEnabled
	}
	return versioningDecision(o.bucket, status, verr, lock, lerr)
}

// versioningDecision decides from the answers to GetBucketVersioning and
// GetObjectLockConfiguration. A server that does not implement versioning
// (NotImplemented) keeps no versions; one without an Object Lock
// configuration answers ObjectLockConfigurationNotFoundError (or, when it
// has no Object Lock at all, NotImplemented). Any other error is the
// caller's to see: Open does not guess.
func versioningDecision(bucket string, status types.BucketVersioningStatus, verr error, lock types.ObjectLockEnabled, lerr error) error {
	switch {
	case verr != nil && !isCode(verr, "NotImplemented"):
		return fmt.Errorf("pgkv: versioning of S3 bucket %s: %w", bucket, verr)
	case verr == nil && status != "":
		return fmt.Errorf("%w (bucket %s: versioning %s)", ErrVersionedBucket, bucket, status)
	case lerr != nil && !isCode(lerr, "ObjectLockConfigurationNotFoundError", "NotImplemented"):
		return fmt.Errorf("pgkv: Object Lock of S3 bucket %s: %w", bucket, lerr)
	case lerr == nil && lock != "":
		return fmt.Errorf("%w (bucket %s: Object Lock %s)", ErrVersionedBucket, bucket, lock)
	}
	return nil
}

func isCode(err error, codes ...string) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	for _, c := range codes {
		if ae.ErrorCode() == c {
			return true
		}
	}
	return false
}
