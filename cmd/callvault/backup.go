package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/internal/bytesize"
	"github.com/callvault/callvault/share"
	"github.com/callvault/callvault/webhook"
)

const backupBytesTrailer = "Callvault-Backup-Bytes"

// The stores beside the archive in the data directory; a backup carries
// them after the archive's files, under these names.
const (
	shareFile    = "share.db"    // external links; share.KeyFile beside it
	webhooksFile = "webhooks.db" // webhooks and their outbox
)

func (c *Config) storePath(name string) string { return filepath.Join(c.Archive.Data, name) }

// extraStore is a store a backup carries beside the archive: what it
// holds, for messages, and how a restored copy is checked.
type extraStore struct {
	archive.BackupPart
	what  string
	check func(arc *archive.Archive, path string) error
}

// extraStores are the external links and the webhooks, snapshot from
// shares and hooks (nil when restoring).
func extraStores(shares, hooks archive.BackupStore) []extraStore {
	return []extraStore{
		{archive.BackupPart{Name: shareFile, KeyFile: share.KeyFile, Store: shares}, "external links", func(arc *archive.Archive, path string) error {
			s, err := share.Open(arc, nil, share.Options{Path: path, Outbox: true}, nil)
			if err != nil {
				return err
			}
			return s.Close()
		}},
		{archive.BackupPart{Name: webhooksFile, Store: hooks}, "webhooks", func(arc *archive.Archive, path string) error {
			s, err := webhook.Open(arc, nil, webhook.Options{Path: path}, nil)
			if err != nil {
				return err
			}
			return s.Close()
		}},
	}
}

// backupParts are what a running daemon's backup carries beside the
// archive.
func backupParts(shares *share.Service, hooks *webhook.Service) []archive.BackupPart {
	var parts []archive.BackupPart
	for _, x := range extraStores(shares, hooks) {
		parts = append(parts, x.BackupPart)
	}
	return parts
}

// backupHandler is GET /api/v1/backup: an admin downloads a consistent
// snapshot of the archive file and of parts (the external links and the
// webhooks) while recording goes on. The snapshot is as encrypted as the
// files; the archive key is not in it.
func backupHandler(arc *archive.Archive, parts []archive.BackupPart, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := basicAuth(r, arc, archive.RoleAdmin); err != nil {
			refuseAuth(w, err, `Basic realm="callvault", charset="UTF-8"`, "admin login required")
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Disposition", `attachment; filename="callvault-`+time.Now().UTC().Format("20060102-150405")+`.tar"`)
		w.Header().Set("Trailer", backupBytesTrailer)
		w.Header().Set("Cache-Control", "no-store")
		start := time.Now()
		n, err := arc.WriteBackup(w, parts...)
		if n == 0 && errors.Is(err, errors.ErrUnsupported) {
			// Nothing sent yet: say why instead of cutting the response.
			for _, h := range []string{"Content-Disposition", "Trailer", "Content-Type"} {
				w.Header().Del(h)
			}
			http.Error(w, "backup: this archive is not a bbolt file; back up its database and bucket with their own tools, with the data directory", http.StatusNotImplemented)
			return
		}
		if err != nil {
			log.Error("backup failed", "bytes", n, "err", err)
			panic(http.ErrAbortHandler) // cut the response: the client must not keep half a file
		}
		w.Header().Set(backupBytesTrailer, strconv.FormatInt(n, 10))
		log.Info("backup sent", "bytes", n, "remote", r.RemoteAddr, "took", time.Since(start).Round(time.Millisecond))
	})
}

// refuseAuth answers credentials basicAuth refused: 429 with Retry-After
// past the guessing limit, else 401 with the challenge.
func refuseAuth(w http.ResponseWriter, err error, challenge, msg string) {
	var le *archive.LimitedError
	if errors.As(err, &le) {
		w.Header().Set("Retry-After", strconv.Itoa(le.RetrySeconds()))
		http.Error(w, "too many failed attempts; retry later", http.StatusTooManyRequests)
		return
	}
	w.Header().Set("WWW-Authenticate", challenge)
	http.Error(w, msg, http.StatusUnauthorized)
}

// basicAuth checks HTTP Basic credentials for one of roles. Past the
// guessing limit the error is an *archive.LimitedError.
func basicAuth(r *http.Request, arc *archive.Archive, roles ...archive.Role) (*archive.User, error) {
	login, pass, ok := r.BasicAuth()
	if !ok {
		return nil, errNotAdmin
	}
	u, err := arc.Authenticate(r.Context(), archive.ClientAddr(r.RemoteAddr), login, pass)
	if err != nil {
		return nil, err
	}
	for _, role := range roles {
		if u.Role == role {
			return u, nil
		}
	}
	return nil, errNotAdmin
}

// clientOptions are the flags of the commands that talk to a running
// daemon.
type clientOptions struct {
	config       string
	url          string
	user         string
	passwordFile string
	ca           string
}

func (c *clientOptions) flags(fs interface {
	StringVar(*string, string, string, string)
}, user string) {
	fs.StringVar(&c.config, "config", "", "configuration file (default "+installedConfig+" for the installed program)")
	fs.StringVar(&c.url, "url", "", "daemon base URL, e.g. https://localhost:8443 (default: from the config's main listener)")
	fs.StringVar(&c.user, "user", user, "login")
	fs.StringVar(&c.passwordFile, "password-file", "", "file holding the password (default: $CALLVAULT_PASSWORD)")
	fs.StringVar(&c.ca, "ca", "", "PEM certificate to trust (default: the config's certificate, then the system's roots)")
}

// daemonClient is an authenticated HTTP client for a running daemon.
type daemonClient struct {
	base       string
	user, pass string
	hc         *http.Client
}

func (c *clientOptions) client(cfg *Config) (*daemonClient, error) {
	pass := os.Getenv("CALLVAULT_PASSWORD")
	if c.passwordFile != "" {
		b, err := readSecret(c.passwordFile)
		if err != nil {
			return nil, fmt.Errorf("password file: %w", err)
		}
		pass = string(b)
	}
	if pass == "" {
		return nil, fmt.Errorf("no password for %q: set CALLVAULT_PASSWORD or --password-file", c.user)
	}
	base := strings.TrimSuffix(c.url, "/")
	if base == "" {
		host, port, _ := net.SplitHostPort(cfg.Server.Listen)
		if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
			host = "localhost"
		}
		scheme := "http"
		if cfg.Server.TLS {
			scheme = "https"
		}
		base = scheme + "://" + net.JoinHostPort(host, port)
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	caFile := c.ca
	if caFile == "" && cfg.usesTLS() {
		caFile = cfg.TLS.CertFile
		if caFile == "" {
			caFile = filepath.Join(cfg.tlsDir(), "cert.pem")
		}
		if _, err := os.Stat(caFile); err != nil {
			caFile = ""
		}
	}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s holds no PEM certificate", caFile)
		}
		tc.RootCAs = pool
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tc
	return &daemonClient{base: base, user: c.user, pass: pass, hc: &http.Client{Transport: tr}}, nil
}

func (c *daemonClient) do(req *http.Request) (*http.Response, error) {
	req.SetBasicAuth(c.user, c.pass)
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w (is the daemon running? see --url)", req.Method, req.URL.Redacted(), err)
	}
	return resp, nil
}

// loadClientConfig reads the config named by --config, the installed one,
// or the defaults.
func loadClientConfig(path string) (Config, error) {
	if path == "" {
		path = defaultConfigFile()
	}
	return loadConfig(path)
}

func runBackup(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var co clientOptions
	var out string
	fs := newFlagSet("backup", stderr)
	co.flags(fs, "admin")
	fs.StringVar(&out, "out", "", "file to write the backup (archive, external links, webhooks) to (required; not overwritten)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if out == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: callvault backup --out FILE [--url URL] [--user admin] [--password-file FILE] [--config FILE]")
		return errors.New("backup: --out FILE is required")
	}
	cfg, err := loadClientConfig(co.config)
	if err != nil {
		return err
	}
	c, err := co.client(&cfg)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	n, err := backup(ctx, c, out)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	fmt.Fprintf(stdout, "backup: wrote %s (%s) from %s\nkeep the archive key (%s) too, stored apart from the backup: without it the backup cannot be read\n",
		out, humanBytes(n), c.base, cfg.keyDescription())
	return nil
}

// backup downloads a snapshot into out through a temporary file of its
// own in out's directory (created exclusively, so a name planted there is
// never followed), checks its length against the server's count, syncs it
// and links it to out, which fails if out exists: a backup never replaces
// a file, not even one created while it downloads. The temporary file is
// removed on every path.
func backup(ctx context.Context, c *daemonClient, out string) (int64, error) {
	if _, err := os.Lstat(out); err == nil {
		return 0, fmt.Errorf("%s exists; choose another name", out)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/api/v1/backup", nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return 0, fmt.Errorf("daemon answered %s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	dir := filepath.Dir(out)
	f, err := os.CreateTemp(dir, filepath.Base(out)+".partial-*") // O_EXCL, mode 0600
	if err != nil {
		return 0, err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after the link, out keeps the data
	n, err := io.Copy(f, resp.Body)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return n, fmt.Errorf("after %d bytes: %w", n, err)
	}
	if want := resp.Trailer.Get(backupBytesTrailer); want != strconv.FormatInt(n, 10) {
		return n, fmt.Errorf("incomplete: received %d bytes, the daemon sent %q", n, want)
	}
	if err := os.Link(tmp, out); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return n, fmt.Errorf("%s appeared during the download; not replacing it (choose another name)", out)
		}
		return n, fmt.Errorf("publish %s: %w", out, err)
	}
	if err := os.Remove(tmp); err != nil {
		return n, err
	}
	if err := syncDirOf(out); err != nil {
		return n, fmt.Errorf("sync %s: %w", dir, err)
	}
	return n, nil
}

func humanBytes(n int64) string { return bytesize.Format(n, "B") }
