package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"regexp"
	"time"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/recorder"
	"github.com/callvault/callvault/ui"
)

// serveOptions are the flags of serve.
type serveOptions struct {
	config  string
	data    string
	listen  string
	keyFile string
	// ready, when set, receives the bound address once the server listens
	// (tests use it with --listen 127.0.0.1:0).
	ready func(addr string)
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o serveOptions
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.config, "config", "", "TOML configuration file")
	fs.StringVar(&o.data, "data", "", "data directory (overrides archive.data)")
	fs.StringVar(&o.listen, "listen", "", "address for UI, API and ingest (overrides server.listen)")
	fs.StringVar(&o.keyFile, "key-file", "", "archive key file (overrides archive.key_file)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("serve: unexpected argument %q", fs.Arg(0))
	}
	return serve(ctx, o, stdout, stderr)
}

func serve(ctx context.Context, o serveOptions, stdout, stderr io.Writer) error {
	cfg, err := loadConfig(o.config)
	if err != nil {
		return err
	}
	if o.data != "" {
		cfg.Archive.Data = o.data
	}
	if o.listen != "" {
		cfg.Server.Listen = o.listen
	}
	if o.keyFile != "" {
		cfg.Archive.KeyFile = o.keyFile
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	log := newLogger(cfg.Log, stderr)

	var namePattern *regexp.Regexp
	if cfg.Ingest.NamePattern != "" {
		if namePattern, err = regexp.Compile(cfg.Ingest.NamePattern); err != nil {
			return fmt.Errorf("config: ingest.name_pattern: %w", err)
		}
	}
	arc, err := openArchive(&cfg, log)
	if err != nil {
		return err
	}
	defer arc.Close()

	if err := firstUsers(ctx, arc, stdout); err != nil {
		return err
	}
	rec, err := recorder.New(arc, recorder.Config{
		Prefix: cfg.Ingest.Prefix, NamePattern: namePattern, IdleTimeout: cfg.Ingest.IdleTimeout.Duration,
	}, log.With("subsystem", "recording"))
	if err != nil {
		return err
	}
	if err := rec.Recover(ctx); err != nil {
		return err
	}
	api := ui.NewAPI(arc, rec, log.With("subsystem", "gui"))

	mux := http.NewServeMux()
	mux.Handle(cfg.Ingest.Prefix, rec.Handler())
	mux.Handle("/api/v1/", api.Routes())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "callvault", version, "- JSON API under /api/v1/recordings")
	})

	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	addr := ln.Addr().String()
	log.Info("callvault listening", "version", version, "addr", "http://"+addr, "data", cfg.Archive.Data)
	if o.ready != nil {
		o.ready(addr)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		// Uploads still open at the deadline: close their connections; the
		// recorder finishes each as interrupted with what arrived.
		_ = srv.Close()
	}
	rec.Wait()
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func openArchive(cfg *Config, log *slog.Logger) (*archive.Archive, error) {
	pass, err := cfg.passphrase()
	if err != nil {
		return nil, err
	}
	opt := archive.Options{Logger: log.With("subsystem", "archive"), Passphrase: pass}
	if pass == nil {
		opt.KeyFile = cfg.keyFile()
	}
	if err := os.MkdirAll(cfg.Archive.Data, 0o700); err != nil {
		return nil, err
	}
	return archive.Open(cfg.dbPath(), opt)
}

// firstUsers creates the admin and ingest accounts on first start, with the
// passwords from CALLVAULT_ADMIN_PASSWORD / CALLVAULT_INGEST_PASSWORD or
// generated ones printed once.
func firstUsers(ctx context.Context, arc *archive.Archive, stdout io.Writer) error {
	users, err := arc.Users(ctx)
	if err != nil {
		return err
	}
	if len(users) > 0 {
		return nil
	}
	for _, u := range []struct {
		login string
		role  archive.Role
		name  string
		env   string
	}{
		{"admin", archive.RoleAdmin, "Administrator", "CALLVAULT_ADMIN_PASSWORD"},
		{"ingest", archive.RoleIngest, "Recording devices", "CALLVAULT_INGEST_PASSWORD"},
	} {
		pw := os.Getenv(u.env)
		generated := pw == ""
		if generated {
			pw = rand.Text()
		}
		if err := arc.PutUser(ctx, archive.User{Login: u.login, Name: u.name, Role: u.role}, pw); err != nil {
			return err
		}
		if generated {
			fmt.Fprintf(stdout, "first start: created login %q with password %s (shown only now; set %s to choose it)\n", u.login, pw, u.env)
		} else {
			fmt.Fprintf(stdout, "first start: created login %q with the password from %s\n", u.login, u.env)
		}
	}
	return nil
}
