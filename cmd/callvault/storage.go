package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/archive/kv/pgkv"
)

// Storage backends.
const (
	backendBolt     = "bbolt"
	backendPostgres = "postgres+s3"
)

// StorageConfig chooses where the archive's records and chunks live: one
// bbolt file in the data directory (the default), or PostgreSQL for the
// records with the sealed chunks as objects in S3-compatible storage. The
// data directory holds the archive's local files on either (the data-key
// slots, the chain head's witness, the reserve file).
type StorageConfig struct {
	Backend         string `toml:"backend"`
	PostgresURL     string `toml:"postgres_url"`
	PostgresURLFile string `toml:"postgres_url_file"`
	S3Endpoint      string `toml:"s3_endpoint"`
	S3Region        string `toml:"s3_region"`
	S3Bucket        string `toml:"s3_bucket"`
	S3AccessKeyFile string `toml:"s3_access_key_file"`
	S3SecretKeyFile string `toml:"s3_secret_key_file"`
}

// s3BucketName is S3's rule for bucket names.
var s3BucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

// validate checks the section. Errors never quote postgres_url, which may
// hold a password.
func (s *StorageConfig) validate() error {
	switch s.Backend {
	case backendBolt:
		for key, v := range map[string]string{"postgres_url": s.PostgresURL, "postgres_url_file": s.PostgresURLFile,
			"s3_endpoint": s.S3Endpoint, "s3_region": s.S3Region, "s3_bucket": s.S3Bucket,
			"s3_access_key_file": s.S3AccessKeyFile, "s3_secret_key_file": s.S3SecretKeyFile} {
			if v != "" {
				return badValue("storage."+key, "is set, but storage.backend is %q: set backend = %q to use it", backendBolt, backendPostgres)
			}
		}
		return nil
	case backendPostgres:
	default:
		return badValue("storage.backend", "%q: use %q (one file in the data directory) or %q", s.Backend, backendBolt, backendPostgres)
	}
	switch {
	case s.PostgresURL == "" && s.PostgresURLFile == "":
		return badValue("storage.postgres_url", "is empty: set storage.postgres_url or storage.postgres_url_file")
	case s.PostgresURL != "" && s.PostgresURLFile != "":
		return badValue("storage.postgres_url_file", "set storage.postgres_url or storage.postgres_url_file, not both")
	case s.PostgresURL != "":
		if err := checkPostgresURL(s.PostgresURL); err != nil {
			return badValue("storage.postgres_url", "%v", err)
		}
	}
	u, err := url.Parse(s.S3Endpoint)
	if s.S3Endpoint == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return badURL("storage.s3_endpoint", s.S3Endpoint, "give an http or https URL without credentials, such as https://s3.example.net")
	}
	if !s3BucketName.MatchString(s.S3Bucket) || strings.Contains(s.S3Bucket, "..") {
		return badValue("storage.s3_bucket", "%q: 3 to 63 lowercase letters, digits, dots and hyphens", s.S3Bucket)
	}
	if s.S3AccessKeyFile == "" {
		return badValue("storage.s3_access_key_file", "is empty: name the file holding the S3 access key")
	}
	if s.S3SecretKeyFile == "" {
		return badValue("storage.s3_secret_key_file", "is empty: name the file holding the S3 secret key")
	}
	return nil
}

// checkPostgresURL accepts a postgres:// or postgresql:// URL or a
// key=value connection string, without quoting it in its error.
func checkPostgresURL(s string) error {
	if strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://") {
		u, err := url.Parse(s)
		if err != nil || u.Host == "" {
			return fmt.Errorf("not a valid postgres:// URL with a host")
		}
		return nil
	}
	if !strings.Contains(s, "=") {
		return fmt.Errorf("not a postgres:// URL nor a key=value connection string")
	}
	return nil
}

// showableURL reports whether an error or a log line may quote a URL-ish
// config value: only one that parses and holds no user info, "@" or
// query, any of which may carry a credential.
func showableURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.User == nil && u.RawQuery == "" && !strings.Contains(s, "@")
}

// badURL is badValue for a URL-ish config value: it quotes the value only
// when showableURL, else names the key alone.
func badURL(key, value, want string) error {
	if showableURL(value) {
		return badValue(key, "%q: %s", value, want)
	}
	return badValue(key, "not shown (it may hold a credential): %s", want)
}

// userinfo finds the user info of URLs in a text, even of URLs that do
// not parse.
var userinfo = regexp.MustCompile(`(?i)\b([a-z][a-z0-9+.-]*://)\S*@`)

// passwordParam finds a password in a key=value connection string or a
// URL's query.
var passwordParam = regexp.MustCompile(`(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&]*)`)

// redactURL hides the password of a connection URL or string, and the
// whole user info of a URL that does not parse (or of URLs in a text).
func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil && u.Scheme != "" && u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
		s = u.String()
	} else {
		s = userinfo.ReplaceAllString(s, "${1}xxxxx@")
	}
	return passwordParam.ReplaceAllString(s, "${1}xxxxx")
}

// String describes the storage without secrets: the URL's password is
// redacted and the keys are named by their files only.
func (s StorageConfig) String() string {
	if s.Backend != backendPostgres {
		return s.Backend
	}
	db := "postgres_url_file " + s.PostgresURLFile
	if s.PostgresURL != "" {
		db = redactURL(s.PostgresURL)
	}
	endpoint := s.S3Endpoint
	if !showableURL(endpoint) {
		endpoint = "(endpoint not shown)"
	}
	return fmt.Sprintf("%s (%s; s3 %s bucket %s)", s.Backend, db, endpoint, s.S3Bucket)
}

// LogValue is what a log line shows of the storage: no secrets.
func (s StorageConfig) LogValue() slog.Value { return slog.StringValue(s.String()) }

// checkFiles reads the secret files the section names.
func (s *StorageConfig) checkFiles() error {
	if s.Backend != backendPostgres {
		return nil
	}
	_, err := s.pgkvOptions()
	return err
}

// postgresURL is storage.postgres_url or the content of its file.
func (s *StorageConfig) postgresURL() (string, error) {
	if s.PostgresURLFile == "" {
		return s.PostgresURL, nil
	}
	b, err := readSecret(s.PostgresURLFile)
	if err != nil {
		return "", fmt.Errorf("storage.postgres_url_file: %w", err)
	}
	if err := checkPostgresURL(string(b)); err != nil {
		return "", fmt.Errorf("storage.postgres_url_file %s: %w", s.PostgresURLFile, err)
	}
	return string(b), nil
}

// pgkvOptions reads the secrets and returns the store's options.
func (s *StorageConfig) pgkvOptions() (pgkv.Options, error) {
	if _, err := s.postgresURL(); err != nil {
		return pgkv.Options{}, err
	}
	access, err := readSecret(s.S3AccessKeyFile)
	if err != nil {
		return pgkv.Options{}, fmt.Errorf("storage.s3_access_key_file: %w", err)
	}
	secret, err := readSecret(s.S3SecretKeyFile)
	if err != nil {
		return pgkv.Options{}, fmt.Errorf("storage.s3_secret_key_file: %w", err)
	}
	return pgkv.Options{
		BlobBuckets:  archive.BlobBuckets(),
		ShredBuckets: archive.ShredBuckets(),
		CacheBuckets: archive.CacheBuckets(),
		S3: &pgkv.S3Options{Endpoint: s.S3Endpoint, Region: s.S3Region, Bucket: s.S3Bucket,
			AccessKey: string(access), SecretKey: string(secret)},
	}, nil
}

// storeOpenTimeout bounds connecting to PostgreSQL at start.
const storeOpenTimeout = time.Minute

// openPostgresArchive opens the archive on PostgreSQL + S3, its local
// files at path.
func openPostgresArchive(s *StorageConfig, path string, opt archive.Options) (*archive.Archive, error) {
	store, err := openPostgresStore(context.Background(), s)
	if err != nil {
		return nil, fmt.Errorf("storage %s: %w", s, err)
	}
	arc, err := archive.OpenStore(store, path, opt)
	if err != nil {
		store.Close()
		return nil, err
	}
	return arc, nil
}

// openPostgresStore connects to the database and bucket of s, within
// storeOpenTimeout. Its error has the URL's password taken out.
func openPostgresStore(ctx context.Context, s *StorageConfig) (*pgkv.Store, error) {
	po, err := s.pgkvOptions()
	if err != nil {
		return nil, err
	}
	dsn, _ := s.postgresURL()
	ctx, cancel := context.WithTimeout(ctx, storeOpenTimeout)
	defer cancel()
	store, err := pgkv.Open(ctx, dsn, po)
	if err != nil {
		return nil, errors.New(redactURL(err.Error()))
	}
	return store, nil
}

// boltOnly refuses a subcommand that works on the bbolt file when the
// archive is elsewhere: it would find no file, or make an empty one.
func (c *Config) boltOnly(cmd string) error {
	if c.Storage.Backend == backendBolt {
		return nil
	}
	return fmt.Errorf("%s: works on the bbolt file of storage.backend = %q; this archive is on %s (use the database's and the bucket's own tools)", cmd, backendBolt, c.Storage.Backend)
}
