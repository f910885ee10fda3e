package pgkv

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/jackc/pgx/v5"
)

// S3Options name the S3-compatible bucket that holds the blob buckets'
// values.
type S3Options struct {
	Endpoint  string // e.g. https://s3.example.net or http://127.0.0.1:7070
	Region    string // default us-east-1
	Bucket    string
	AccessKey string
	SecretKey string
	// Prefix is put before every object name (default "kv/"); Sweep looks
	// only below it.
	Prefix string
	// HTTPClient carries the requests (default: a client with a 60 s
	// timeout).
	HTTPClient *http.Client
}

// opTimeout bounds one object request.
const opTimeout = 60 * time.Second

type objectStore struct {
	c      *s3.Client
	bucket string
	prefix string
	cache  *objectCache // nil without cache buckets
}

func newObjectStore(o S3Options) (*objectStore, error) {
	if o.Endpoint == "" || o.Bucket == "" {
		return nil, errors.New("pgkv: S3 endpoint and bucket are required")
	}
	if o.Region == "" {
		o.Region = "us-east-1"
	}
	if o.Prefix == "" {
		o.Prefix = "kv/"
	}
	hc := o.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: opTimeout}
	}
	creds := aws.Credentials{AccessKeyID: o.AccessKey, SecretAccessKey: o.SecretKey, Source: "pgkv"}
	c := s3.New(s3.Options{
		BaseEndpoint: aws.String(o.Endpoint),
		Region:       o.Region,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return creds, nil
		}),
		UsePathStyle: true,
		HTTPClient:   hc,
		// A plain PUT with the payload's SHA-256 in x-amz-content-sha256,
		// which every S3-compatible server understands, rather than the
		// chunked upload with a trailing checksum the SDK sends to AWS.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
		RetryMaxAttempts:           3,
	})
	return &objectStore{c: c, bucket: o.Bucket, prefix: o.Prefix}, nil
}

// ErrObjectExists reports a conditional PUT refused because an object of
// that name exists: the store never overwrites an object.
var ErrObjectExists = errors.New("pgkv: object exists")

// put writes value as a new object under a fresh random name, on the
// condition that no object has that name (If-None-Match: *).
func (o *objectStore) put(ctx context.Context, value []byte) (string, error) {
	name := o.newName()
	return name, o.putNew(ctx, name, value)
}

// newName returns a fresh object name: 128 random bits under the prefix.
func (o *objectStore) newName() string {
	var r [16]byte
	rand.Read(r[:])
	return o.prefix + hex.EncodeToString(r[:])
}

func (o *objectStore) putNew(ctx context.Context, name string, value []byte) error {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	_, err := o.c.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        &o.bucket,
		Key:           &name,
		Body:          bytes.NewReader(value),
		ContentLength: aws.Int64(int64(len(value))),
		IfNoneMatch:   aws.String("*"),
	})
	if err != nil {
		var ae smithy.APIError
		if errors.As(err, &ae) && (ae.ErrorCode() == "PreconditionFailed" || ae.ErrorCode() == "ConditionalRequestConflict") {
			return fmt.Errorf("%w: %s", ErrObjectExists, name)
		}
		return fmt.Errorf("pgkv: put object %s: %w", name, err)
	}
	return nil
}

func (o *objectStore) get(ctx context.Context, name string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	out, err := o.c.GetObject(ctx, &s3.GetObjectInput{Bucket: &o.bucket, Key: &name})
	if err != nil {
		return nil, fmt.Errorf("pgkv: get object %s: %w", name, err)
	}
	defer out.Body.Close()
	v, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, fmt.Errorf("pgkv: get object %s: %w", name, err)
	}
	return v, nil
}

func (o *objectStore) remove(ctx context.Context, name string) error {
	o.uncache(name)
	defer o.uncache(name)
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	_, err := o.c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &o.bucket, Key: &name})
	if err != nil {
		return fmt.Errorf("pgkv: delete object %s: %w", name, err)
	}
	return nil
}

// discardObjects deletes, after rollback, the objects the transaction
// wrote.
func (t *tx) discardObjects() {
	t.uploads.Wait()
	for _, name := range t.put {
		t.s.objects.remove(t.ctx, name)
	}
}

// Sweep removes, with olderThan as its grace period before now
// (Options.Now):
//
//   - the objects that transactions released (overwritten, deleted, in a
//     deleted bucket) more than olderThan ago: no read transaction that
//     began before the release, and so could still read the object, is
//     younger than that, when olderThan exceeds the longest transaction;
//   - the objects under the prefix that no row references and that this
//     store's sweeps have seen unreferenced since more than olderThan ago:
//     the orphans of a process that died between writing an object and
//     committing the row that would reference it. The age is measured by
//     the store's own clock from the first sweep that saw the object, not
//     from the object's LastModified, which the S3 server's clock stamps:
//     a server clock running behind must not make the object of a
//     transaction still running look old. So an orphan goes on the second
//     sweep that sees it (on the first when olderThan is 0), and a
//     restart starts its wait again. olderThan must exceed the longest
//     write transaction, or Sweep may remove the object of a transaction
//     still running.
//
// Several daemons may sweep at once: removing an object twice is no
// error. It returns how many objects it removed.
func (s *Store) Sweep(ctx context.Context, olderThan time.Duration) (int, error) {
	if s.objects == nil {
		return 0, nil
	}
	o := s.objects
	cutoff := s.now().Add(-olderThan)
	removed := 0

	rows, _ := s.pool.Query(ctx, `SELECT name FROM kv_released WHERE released < $1`, cutoff.UnixNano())
	released, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		return 0, fmt.Errorf("pgkv: sweep: %w", err)
	}
	for _, name := range released {
		if err := o.remove(ctx, string(name)); err != nil {
			return removed, err
		}
		if _, err := s.pool.Exec(ctx, `DELETE FROM kv_released WHERE name = $1`, name); err != nil {
			return removed, fmt.Errorf("pgkv: sweep: %w", err)
		}
		removed++
	}

	now := s.now()
	s.orphansMu.Lock()
	defer s.orphansMu.Unlock()
	seen := make(map[string]time.Time) // this sweep's orphans, when first seen
	defer func() { s.orphans = seen }()
	p := s3.NewListObjectsV2Paginator(o.c, &s3.ListObjectsV2Input{Bucket: &o.bucket, Prefix: &o.prefix})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return removed, fmt.Errorf("pgkv: list objects: %w", err)
		}
		var names []string
		for _, obj := range page.Contents {
			if obj.Key != nil {
				names = append(names, *obj.Key)
			}
		}
		if len(names) == 0 {
			continue
		}
		orphans, err := s.unreferenced(ctx, names)
		if err != nil {
			return removed, err
		}
		for _, name := range orphans {
			first, ok := s.orphans[name]
			if !ok {
				first = now
			}
			if now.Sub(first) < olderThan {
				seen[name] = first
				continue
			}
			if err := o.remove(ctx, name); err != nil {
				seen[name] = first
				return removed, err
			}
			removed++
		}
	}
	return removed, nil
}

// unreferenced returns the names that neither a row references nor the
// released list holds (those wait for their grace period).
func (s *Store) unreferenced(ctx context.Context, names []string) ([]string, error) {
	refs := make([][]byte, len(names))
	for i, n := range names {
		refs[i] = []byte(n)
	}
	rows, _ := s.pool.Query(ctx, `
		SELECT value FROM kv_rows WHERE kind = 2 AND value = ANY($1)
		UNION ALL SELECT name FROM kv_released WHERE name = ANY($1)`, refs)
	found, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		return nil, fmt.Errorf("pgkv: sweep: %w", err)
	}
	seen := map[string]bool{}
	for _, f := range found {
		seen[string(f)] = true
	}
	var out []string
	for _, n := range names {
		if !seen[n] {
			out = append(out, n)
		}
	}
	return out, nil
}

// Referenced returns the names of the objects the store accounts for:
// those a row references and those waiting in the released list for
// Sweep. Any other object under the prefix is an orphan that Sweep
// removes.
func (s *Store) Referenced(ctx context.Context) ([]string, error) {
	rows, _ := s.pool.Query(ctx, `SELECT value FROM kv_rows WHERE kind = 2 UNION SELECT name FROM kv_released`)
	names, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		return nil, fmt.Errorf("pgkv: referenced objects: %w", err)
	}
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = string(n)
	}
	return out, nil
}
