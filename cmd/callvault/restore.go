package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/callvault/callvault/archive"
)

// storeOptions are the flags of commands that open the data directory of
// a stopped daemon.
type storeOptions struct {
	config  string
	data    string
	keyFile string
}

func (s *storeOptions) flags(fs interface {
	StringVar(*string, string, string, string)
}) {
	fs.StringVar(&s.config, "config", "", "configuration file (default "+installedConfig+" for the installed program)")
	fs.StringVar(&s.data, "data", "", "data directory (overrides archive.data)")
	fs.StringVar(&s.keyFile, "key-file", "", "archive key file (overrides archive.key_file)")
}

func (s *storeOptions) load() (Config, error) {
	path := s.config
	if path == "" {
		path = defaultConfigFile()
	}
	return loadConfig(path, func(c *Config) {
		if s.data != "" {
			c.Archive.Data = s.data
		}
		if s.keyFile != "" {
			c.Archive.KeyFile = s.keyFile
		}
	})
}

func inUseMessage(err error) error {
	if errors.Is(err, archive.ErrInUse) {
		return fmt.Errorf("%w: stop the daemon first (systemctl stop callvault)", err)
	}
	return err
}

func runRestore(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var so storeOptions
	var in string
	fs := newFlagSet("restore", stderr)
	so.flags(fs)
	fs.StringVar(&in, "in", "", "backup file written by callvault backup (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if in == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: callvault restore --in FILE [--config FILE] [--data DIR] [--key-file FILE]   (daemon stopped)")
		return errors.New("restore: --in FILE is required")
	}
	cfg, err := so.load()
	if err != nil {
		return err
	}
	res, err := restore(ctx, &cfg, in)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	fmt.Fprintf(stdout, "restore: %s now holds the backup %s: %d recordings, seal chain valid\n", cfg.dbPath(), in, res.recordings)
	if res.previous != "" {
		fmt.Fprintf(stdout, "restore: the previous archive file is kept as %s (delete it once the restored appliance works)\n", res.previous)
	}
	if res.unfinished > 0 {
		fmt.Fprintf(stdout, "restore: %d uploads were open when the backup was taken; the next start keeps them as interrupted\n", res.unfinished)
	}
	return nil
}

type restoreResult struct {
	recordings, unfinished int
	previous               string
}

// restore checks that the backup opens with the configured key, is
// consistent and its seal chain verifies, then puts it in place of the
// archive file; the file it replaces is renamed, not deleted.
func restore(ctx context.Context, cfg *Config, in string) (restoreResult, error) {
	var res restoreResult
	db := cfg.dbPath()
	if err := archive.CheckNotInUse(db, time.Second); err != nil {
		return res, inUseMessage(err)
	}
	if err := os.MkdirAll(cfg.Archive.Data, 0o700); err != nil {
		return res, err
	}
	tmp := db + ".restoring"
	src, err := os.Open(in)
	if err != nil {
		return res, err
	}
	err = archive.ExtractBackup(src, tmp)
	src.Close()
	defer os.Remove(tmp)
	defer os.Remove(archive.SlotFile(tmp))
	if err != nil {
		return res, fmt.Errorf("%s: %w", in, err)
	}
	pass, err := cfg.passphrase()
	if err != nil {
		return res, err
	}
	opt := archive.Options{Passphrase: pass}
	if pass == nil {
		opt.KeyFile = cfg.keyFile()
		if _, err := os.Stat(opt.KeyFile); err != nil {
			return res, fmt.Errorf("archive key %s: %w (restore needs the key the backup was made with)", opt.KeyFile, err)
		}
	}
	arc, err := archive.Open(tmp, opt)
	if errors.Is(err, archive.ErrWrongKey) {
		return res, fmt.Errorf("%s does not open with the key %s: restore needs the key the backup was made with", in, cfg.keyDescription())
	}
	if err != nil {
		return res, fmt.Errorf("%s is not a readable archive backup: %w", in, err)
	}
	err = arc.Check()
	if err == nil {
		var v *archive.VerifyResult
		if v, err = arc.VerifyChain(ctx); err == nil && !v.Valid {
			err = fmt.Errorf("seal chain does not verify: %v", v.Problems)
		}
	}
	if err == nil {
		var u archive.Usage
		u, err = arc.Usage(ctx)
		res.recordings, res.unfinished = u.Recordings, u.Unfinished
	}
	if cerr := arc.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return res, fmt.Errorf("%s: %w", in, err)
	}
	// The archive file and its data-key file move together; the ones
	// replaced are kept under the same suffix.
	if _, err := os.Stat(db); err == nil {
		res.previous = db + ".before-restore-" + time.Now().UTC().Format("20060102-150405")
		if err := os.Rename(db, res.previous); err != nil {
			return res, err
		}
		if err := os.Rename(archive.SlotFile(db), archive.SlotFile(res.previous)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return res, err
		}
	}
	if err := os.Rename(archive.SlotFile(tmp), archive.SlotFile(db)); err != nil {
		return res, err
	}
	if err := os.Rename(tmp, db); err != nil {
		return res, err
	}
	return res, syncDirOf(db)
}

func syncDirOf(path string) error {
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
