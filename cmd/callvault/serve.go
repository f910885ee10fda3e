package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"regexp"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/callvault/callvault/api"
	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/foureyes"
	"github.com/callvault/callvault/recorder"
	"github.com/callvault/callvault/ui"
	"github.com/callvault/callvault/webhook"
)

// serveOptions are the flags of serve.
type serveOptions struct {
	config  string
	data    string
	listen  string
	keyFile string
	// ready, when set, receives the UI/API listener's bound address once
	// every listener listens (tests use it with --listen 127.0.0.1:0).
	ready func(addr string)
	// lifecycleRan, when set, receives each lifecycle run's result.
	lifecycleRan func(archive.ExpireResult)
	// now, when set, is the clock (default time.Now). The archive keeps
	// it; the recorder, the pages, the API, 4-eyes, the guessing limit and
	// the lifecycle job read the time from the archive, so the daemon runs
	// on one clock.
	now func() time.Time
}

// apply lets the flags override the file.
func (o *serveOptions) apply(c *Config) {
	if o.data != "" {
		c.Archive.Data = o.data
	}
	if o.listen != "" {
		c.Server.Listen = o.listen
	}
	if o.keyFile != "" {
		c.Archive.KeyFile = o.keyFile
	}
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o serveOptions
	fs := newFlagSet("serve", stderr)
	fs.StringVar(&o.config, "config", "", "TOML configuration file (default "+installedConfig+" for the installed program)")
	fs.StringVar(&o.data, "data", "", "data directory (overrides archive.data)")
	fs.StringVar(&o.listen, "listen", "", "address of the main listener (overrides server.listen)")
	fs.StringVar(&o.keyFile, "key-file", "", "archive key file (overrides archive.key_file)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("serve: unexpected argument %q", fs.Arg(0))
	}
	if o.config == "" {
		o.config = defaultConfigFile()
	}
	return serve(ctx, o, stdout, stderr)
}

func serve(ctx context.Context, o serveOptions, stdout, stderr io.Writer) error {
	cfg, err := loadConfig(o.config, o.apply)
	if err != nil {
		return err
	}
	levels := newLogLevels(cfg.Log, stderr)
	log := levels.Root()

	var namePattern *regexp.Regexp
	if cfg.Ingest.NamePattern != "" {
		namePattern = regexp.MustCompile(cfg.Ingest.NamePattern) // validated
	}
	m := newMetrics()
	arc, err := openArchiveWith(&cfg, log, m.onCommit, o.now)
	if err != nil {
		return err
	}
	defer arc.Close()

	if err := firstUsers(ctx, arc, &cfg, stdout); err != nil {
		return err
	}
	h := &health{arc: arc, dir: cfg.Archive.Data, minFree: uint64(cfg.Health.MinFreeMB) << 20}
	hooked := &hookRelay{ctx: ctx, log: levels.Logger(subsysConnections)} // webhooks.go
	rec, err := recorder.New(arc, recorder.Config{
		Prefix: cfg.Ingest.Prefix, NamePattern: namePattern, IdleTimeout: cfg.Ingest.IdleTimeout.Duration,
		MaxUploadBytes: cfg.Ingest.MaxUploadMB << 20, SpaceCheck: h.roomForUploads, OnComplete: hooked.completed,
	}, levels.Logger(subsysRecording))
	if err != nil {
		return err
	}
	if err := rec.Recover(ctx); err != nil {
		return err
	}
	m.watch(arc, rec)
	sw := watchSettings(ctx, arc, rec, levels, log) // trace levels, sealing backlog
	defer sw.stop()
	defer startLifecycle(ctx, arc, log, o.lifecycleRan)() // starts now (retention, seat grace, recycle bin; daily); stops on return
	var certs *certSource
	if cfg.usesTLS() {
		if certs, err = newCertSource(&cfg, log); err != nil {
			return err
		}
	}

	// Trust zones: each subsystem mounts its routes in its zone; the
	// listeners serve the zones the config gives them.
	rt := newRoutes()
	// 4-eyes access: one state for the pages, the API and WebDAV.
	fourEyes := foureyes.New(arc, foureyes.Options{}, levels.Logger(subsysGUI))
	defer fourEyes.Close()
	jsonAPI := api.New(arc, rec, levels.Logger(subsysGUI))
	jsonAPI.SetFourEyes(fourEyes)
	jsonAPI.SetLegs(cfg.Legs.options())
	rt.handle(zoneUI, "/api/v1/", jsonAPI.Routes())
	uiKeyFile := ""
	if pass, _ := cfg.passphrase(); pass == nil {
		uiKeyFile = cfg.keyFile()
	}
	jsonAPI.SetKeyFile(uiKeyFile)
	// Secure links: the external store, its mail and the recipient's zone.
	shares, stopShares, err := startShares(ctx, &cfg, arc, rec, levels)
	if err != nil {
		return err
	}
	defer stopShares()
	jsonAPI.SetShares(shares)
	rt.handle(zonePlayback, "/p/", shares.Handler())
	// Webhooks: their store and outbox, and the file links they send.
	hooks, stopHooks, err := startWebhooks(ctx, &cfg, arc, rec, hooked, levels)
	if err != nil {
		return err
	}
	defer stopHooks()
	jsonAPI.SetWebhooks(hooks)
	jsonAPI.SetPauser(pauser{rec})
	rt.handle(zoneUI, "GET "+webhook.FilePrefix, hooks.FileHandler())
	rt.handle(zoneUI, "GET /api/v1/backup", backupHandler(arc, backupParts(shares, hooks), log))
	web, err := ui.New(arc, rec, ui.Options{KeyFile: uiKeyFile, Version: version, FourEyes: fourEyes, Shares: shares, Webhooks: hooks}, levels.Logger(subsysGUI))
	if err != nil {
		return err
	}
	rt.handle(zoneUI, "/", web.Routes())
	// Twilio Flex Insights' url_provider (flex.go).
	flexURL, err := newFlex(&cfg, arc, rec, fourEyes, levels.Logger(subsysConnections))
	if err != nil {
		return err
	}
	rt.handle(zoneUI, "/flex/", flexURL.Handler())
	mountWebDAV(rt, arc, rec.Handler(), cfg.Ingest.Prefix, fourEyes.Bind, levels.Logger(subsysConnections))
	rt.handle(zoneIngest, "GET /api/v1/originals/{sha256}", originalsHandler(arc))
	rt.handle(zoneOps, "GET /metrics", m.handler())
	rt.handle(zoneOps, "GET /healthz", http.HandlerFunc(h.healthz))
	rt.handle(zoneOps, "GET /readyz", http.HandlerFunc(h.readyz))

	ls, err := listen(&cfg, rt, m, certs, levels.Logger(subsysConnections))
	if err != nil {
		return err
	}
	shares.SetURLs(publicURL(cfg.Share.PublicURL, ls, zonePlayback), publicURL(cfg.Share.UIURL, ls, zoneUI))
	flexURL.SetBaseURL(publicURL(cfg.Flex.PublicURL, ls, zoneUI))
	hooks.SetBaseURL(publicURL(cfg.Share.UIURL, ls, zoneUI))
	web.SetIngest(cfg.Ingest.Prefix, ingestListeners(ls)) // onboarding: the settings page's Record-to-URL
	errc := serveAll(ls)
	for _, l := range ls {
		log.Info("callvault listening", "listener", l.name, "url", l.url(), "zones", strings.Join(l.zones, ","))
	}
	log.Info("callvault started", "version", version, "data", cfg.Archive.Data, "storage", cfg.Storage)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	if o.ready != nil {
		o.ready(uiListener(ls).ln.Addr().String())
	}
	h.ready.Store(true)
	notify(log, "READY=1\nSTATUS=recording")
	var serveErr error
loop:
	for {
		select {
		case serveErr = <-errc:
			if serveErr != nil {
				break loop
			}
		case <-hup:
			notify(log, "RELOADING=1")
			reload(o, levels, certs, log)
			sw.reapply(ctx) // levels set in the UI stay above the file's
			notify(log, "READY=1")
		case <-ctx.Done():
			break loop
		}
	}
	log.Info("shutting down")
	h.ready.Store(false)
	notify(log, "STOPPING=1")
	fourEyes.Close() // ends the event streams, which would hold up the shutdown
	shutdown(ls, cfg.Server.ShutdownTimeout.Duration)
	rec.Close() // export hashes still queued stay due in the archive for the next start
	return serveErr
}

// reload is SIGHUP: the config file's log levels and the certificate are
// read again. Anything else in the file needs a restart.
func reload(o serveOptions, levels *LogLevels, certs *certSource, log *slog.Logger) {
	cfg, err := loadConfig(o.config, o.apply)
	if err != nil {
		log.Error("reload: keeping the running configuration", "err", err)
		return
	}
	levels.apply(cfg.Log)
	if certs != nil {
		if err := certs.reload(); err != nil {
			log.Error("reload: keeping the current certificate", "err", err)
			return
		}
	}
	log.Info("reloaded log levels and certificate")
}

func notify(log *slog.Logger, state string) {
	if err := sdNotify(state); err != nil {
		log.Warn("sd_notify failed", "err", err)
	}
}

func openArchive(cfg *Config, log *slog.Logger) (*archive.Archive, error) {
	return openArchiveWith(cfg, log, nil, nil)
}

// archiveReserve is the disk space the archive keeps beside its file to
// finish uploads cut off by a full disk: each needs its final chunks, its
// records and its rebuilt map (a few percent of its size, mostly in pages
// its old map frees), well under 1 MiB for an hour's call.
const archiveReserve = 16 << 20

// openArchiveWith opens the configured archive; onCommit (may be nil)
// receives every group commit; now (nil: time.Now) is its clock.
func openArchiveWith(cfg *Config, log *slog.Logger, onCommit func(int, int64, time.Duration), now func() time.Time) (*archive.Archive, error) {
	pass, err := cfg.passphrase()
	if err != nil {
		return nil, err
	}
	opt := archive.Options{Logger: log.With("subsystem", "archive"), Passphrase: pass, OnCommit: onCommit, Now: now, ReserveBytes: archiveReserve}
	if pass == nil {
		opt.KeyFile = cfg.keyFile()
	}
	if err := os.MkdirAll(cfg.Archive.Data, 0o700); err != nil {
		return nil, err
	}
	var arc *archive.Archive
	if cfg.Storage.Backend == backendPostgres {
		arc, err = openPostgresArchive(&cfg.Storage, cfg.dbPath(), opt)
	} else {
		arc, err = archive.Open(cfg.dbPath(), opt)
		err = damageHint(err, cfg) // a damaged file: refuse to start, point at salvage
	}
	if errors.Is(err, archive.ErrShortPassphrase) { // a new archive: name the source, never the value
		err = fmt.Errorf("%s: %w", cfg.passphraseSource(), err)
	}
	return arc, err
}

// passphraseSource names where the passphrase comes from, for messages.
func (c *Config) passphraseSource() string {
	if c.Archive.PassphraseFile != "" {
		return "archive.passphrase_file " + c.Archive.PassphraseFile
	}
	return "CALLVAULT_PASSPHRASE"
}

// firstUsers creates the admin and ingest accounts on first start, with the
// passwords from setup.*_password_file, CALLVAULT_ADMIN_PASSWORD /
// CALLVAULT_INGEST_PASSWORD, or generated ones printed once.
func firstUsers(ctx context.Context, arc *archive.Archive, cfg *Config, stdout io.Writer) error {
	users, err := arc.Users(ctx)
	if err != nil {
		return err
	}
	if len(users) > 0 {
		return nil
	}
	type firstUser struct {
		login    string
		role     archive.Role
		name     string
		env      string
		file     string
		pw, from string
	}
	firsts := []firstUser{
		{login: "admin", role: archive.RoleAdmin, name: "Administrator", env: "CALLVAULT_ADMIN_PASSWORD", file: cfg.Setup.AdminPasswordFile},
		{login: "ingest", role: archive.RoleIngest, name: "Recording devices", env: "CALLVAULT_INGEST_PASSWORD", file: cfg.Setup.IngestPasswordFile},
	}
	// Every password is checked before any login is made: a refused one
	// leaves the next start a first start.
	for i := range firsts {
		u := &firsts[i]
		u.pw, u.from = os.Getenv(u.env), u.env
		if u.file != "" {
			b, err := readSecret(u.file)
			switch {
			case err == nil:
				u.pw, u.from = string(b), u.file
			case !errors.Is(err, os.ErrNotExist):
				return fmt.Errorf("config: setup password file: %w", err)
			}
		}
		if u.pw != "" && utf8.RuneCountInString(u.pw) < archive.MinPasswordLen {
			return fmt.Errorf("first start: the %s password from %s has fewer than %d characters, the minimum the UI and the API hold passwords to: choose a longer one", u.login, u.from, archive.MinPasswordLen)
		}
	}
	for _, u := range firsts {
		pw, generated := u.pw, u.pw == ""
		if generated {
			pw = rand.Text()
		}
		if err := arc.PutUser(ctx, archive.User{Login: u.login, Name: u.name, Role: u.role}, pw); err != nil {
			return err
		}
		if generated {
			fmt.Fprintf(stdout, "first start: created login %q with password %s (shown only now; set %s to choose it)\n", u.login, pw, u.env)
		} else {
			fmt.Fprintf(stdout, "first start: created login %q with the password from %s\n", u.login, u.from)
		}
	}
	return nil
}

var errNotAdmin = errors.New("admin login required")
