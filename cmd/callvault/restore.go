package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
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
	fs.StringVar(&in, "in", "", "backup file written by callvault backup (required); its archive, external links and webhooks replace those in the data directory")
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
	if err := cfg.boltOnly("restore"); err != nil {
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
	if len(res.restored) > 0 {
		fmt.Fprintf(stdout, "restore: %s restored\n", storeList(res.restored, " and "))
	}
	for _, p := range res.previousStores {
		fmt.Fprintf(stdout, "restore: %s\n", p)
	}
	if len(res.missing) > 0 {
		fmt.Fprintf(stdout, "restore: the backup holds no %s: it was made before backups carried them; any in %s are left as they are\n",
			storeList(res.missing, " or "), cfg.Archive.Data)
	}
	if res.unfinished > 0 {
		fmt.Fprintf(stdout, "restore: %d uploads were open when the backup was taken; the next start keeps them as interrupted\n", res.unfinished)
	}
	return nil
}

type restoreResult struct {
	recordings, unfinished int
	previous               string
	// restored and missing are the further stores (what they hold, and
	// their file) the backup held or did not hold; previousStores say
	// where the files restored ones replaced are kept.
	restored, missing []extraStore
	previousStores    []string
}

// restore checks that the backup opens with the configured key, is
// consistent and its seal chain verifies, and that the further stores
// it holds (external links, webhooks) open with it, then puts it all in
// place; the files it replaces are renamed, not deleted. A store the
// backup does not hold (one made before backups carried them) is left
// as it is.
func restore(ctx context.Context, cfg *Config, in string) (restoreResult, error) {
	var res restoreResult
	db := cfg.dbPath()
	if err := archive.CheckNotInUse(db, time.Second); err != nil {
		return res, inUseMessage(err)
	}
	if err := os.MkdirAll(cfg.Archive.Data, 0o700); err != nil {
		return res, err
	}
	const restoring = ".restoring"
	tmp := db + restoring
	stores := extraStores(nil, nil)
	parts := make([]archive.BackupPart, len(stores))
	for i := range stores {
		stores[i].Path = cfg.storePath(stores[i].Name) + restoring
		parts[i] = stores[i].BackupPart
		defer removeStore(stores[i].Path, stores[i].KeyFile)
	}
	defer removeStore(tmp, archive.SlotFile, archive.ChunkFile)
	src, err := os.Open(in)
	if err != nil {
		return res, err
	}
	held, err := archive.ExtractBackup(src, tmp, parts...)
	src.Close()
	if err != nil {
		return res, fmt.Errorf("%s: %w", in, err)
	}
	for _, x := range stores {
		if slices.ContainsFunc(held, func(p archive.BackupPart) bool { return p.Name == x.Name }) {
			res.restored = append(res.restored, x)
		} else {
			res.missing = append(res.missing, x)
		}
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
	for _, x := range res.restored {
		if err != nil {
			break
		}
		if err = x.check(arc, x.Path); err != nil {
			err = fmt.Errorf("its %s (%s) do not open with its archive: %w", x.what, x.Name, err)
		}
	}
	if cerr := arc.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return res, fmt.Errorf("%s: %w", in, err)
	}
	// Each store's file and its key file move together; the ones
	// replaced are kept under the same suffix.
	stamp := time.Now().UTC().Format("20060102-150405")
	if res.previous, err = putInPlace(tmp, db, stamp, archive.SlotFile, archive.ChunkFile); err != nil {
		return res, err
	}
	for _, x := range res.restored {
		prev, err := putInPlace(x.Path, cfg.storePath(x.Name), stamp, x.KeyFile)
		if prev != "" {
			res.previousStores = append(res.previousStores, fmt.Sprintf("the previous %s is kept as %s", x.Name, prev))
		}
		if err != nil {
			return res, fmt.Errorf("the archive is restored, but not its %s: %w", x.what, err)
		}
	}
	return res, syncDirOf(db)
}

// putInPlace renames tmp to dst, and each of tmp's companion files (its
// key file, the archive's chunk file: the names companions give) to dst's.
// A file already at dst (with its companions) is first renamed to
// dst.before-restore-stamp; that name is returned ("" when there was
// none). A companion tmp lacks is not an error.
func putInPlace(tmp, dst, stamp string, companions ...func(string) string) (previous string, err error) {
	companions = slices.DeleteFunc(companions, func(c func(string) string) bool { return c == nil })
	if _, err := os.Stat(dst); err == nil {
		previous = dst + ".before-restore-" + stamp
		if err := os.Rename(dst, previous); err != nil {
			return "", err
		}
		for _, c := range companions {
			if err := os.Rename(c(dst), c(previous)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return previous, err
			}
		}
	}
	for _, c := range companions {
		if err := os.Rename(c(tmp), c(dst)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return previous, err
		}
	}
	return previous, os.Rename(tmp, dst)
}

// removeStore removes path and its companion files, if any: a restore's
// leftovers.
func removeStore(path string, companions ...func(string) string) {
	os.Remove(path)
	for _, c := range companions {
		if c != nil {
			os.Remove(c(path))
		}
	}
}

// storeList names stores as "external links (share.db) and webhooks
// (webhooks.db)".
func storeList(xs []extraStore, sep string) string {
	var names []string
	for _, x := range xs {
		names = append(names, x.what+" ("+x.Name+")")
	}
	return strings.Join(names, sep)
}

func syncDirOf(path string) error {
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
