package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/archive/kv/pgkv"
	"github.com/callvault/callvault/recorder"
)

// migrateHook, when set (tests), sees every committed batch of a copy.
var migrateHook func(archive.MigrateProgress)

func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var so storeOptions
	fs := newFlagSet("migrate", stderr)
	so.flags(fs)
	to := fs.String("to-config", "", "configuration file whose [storage] and archive.data name where the archive is copied to (required)")
	batchRecords := fs.Int("batch-records", 0, "most records per write transaction (default 20000)")
	batchMB := fs.Int("batch-mb", 0, "most MiB per write transaction (default 32)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 || *to == "" {
		fmt.Fprintln(stderr, "usage: callvault migrate [--config FILE] [--data DIR] [--key-file FILE] --to-config NEW.toml   (daemon stopped)")
		return errors.New("migrate: --to-config is required")
	}
	cfg, err := so.load()
	if err != nil {
		return err
	}
	newCfg, err := loadConfig(*to)
	if err != nil {
		return err
	}
	if err := newCfg.Storage.checkFiles(); err != nil {
		return err
	}
	srcOpt, err := archiveKeyOptions(&cfg)
	if err != nil {
		return err
	}
	dstOpt, err := archiveKeyOptions(&newCfg)
	if err != nil {
		return err
	}
	if dstOpt.Passphrase == nil {
		if _, err := os.Stat(dstOpt.KeyFile); err != nil {
			return fmt.Errorf("migrate: the archive key file %s that %s names is missing: copy %s there first (the copy opens with the same key)", dstOpt.KeyFile, *to, srcOpt.KeyFile)
		}
	}
	if cfg.Storage.Backend == backendBolt && newCfg.Storage.Backend == backendBolt && sameFile(cfg.dbPath(), newCfg.dbPath()) {
		return fmt.Errorf("migrate: %s and the current configuration name the same archive file %s", *to, cfg.dbPath())
	}
	if err := os.MkdirAll(newCfg.Archive.Data, 0o700); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}

	src, closeSrc, err := openMigrateEnd(ctx, &cfg, true, stdout)
	if err != nil {
		return fmt.Errorf("migrate: source %s: %w", cfg.Storage, err)
	}
	defer closeSrc()
	dst, closeDst, err := openMigrateEnd(ctx, &newCfg, false, stdout)
	if err != nil {
		return fmt.Errorf("migrate: target %s: %w", newCfg.Storage, err)
	}
	defer func() { closeDst() }()

	fmt.Fprintf(stdout, "migrate: copying the archive from %s (%s) to %s (%s)\n", cfg.Storage, cfg.Archive.Data, newCfg.Storage, newCfg.Archive.Data)
	var bar *progress
	start := time.Now()
	p, err := archive.Migrate(ctx, src, dst, archive.MigrateOptions{
		BatchRecords: *batchRecords,
		BatchBytes:   *batchMB << 20,
		Progress: func(p archive.MigrateProgress) {
			if bar == nil {
				bar = newProgress(stdout, int(p.TotalRecords), p.TotalBytes)
				bar.unit = "records"
				if p.ResumedRecords > 0 {
					fmt.Fprintf(stdout, "migrate: resuming an unfinished copy: %d records (%s) were copied before\n", p.ResumedRecords, humanBytes(p.ResumedBytes))
				}
			}
			bar.set(p.Bytes, int(p.Records))
			if migrateHook != nil {
				migrateHook(p)
			}
		},
	})
	if bar != nil {
		if err == nil {
			bar.total = p.Bytes // the source's size was an estimate
			bar.set(p.Bytes, int(p.Records))
		}
		bar.finish()
	}
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("migrate: interrupted after %d of %d records: run the same command again to resume", p.Records, p.TotalRecords)
		}
		return fmt.Errorf("migrate: %w", err)
	}
	el := time.Since(start)
	fmt.Fprintf(stdout, "migrate: copied %d records (%s) in %s, %d of them by earlier runs\n", p.Records, humanBytes(p.Bytes), el.Round(time.Millisecond), p.ResumedRecords)

	cmp, err := archive.CompareMigrated(ctx, src, dst)
	if err != nil {
		return fmt.Errorf("migrate: the copy differs from the source (was the source changed during the copy?): empty the target and migrate again: %w", err)
	}
	fmt.Fprintf(stdout, "migrate: compared %d buckets, %d records (%s) of source and copy by their sha256: identical\n", cmp.Buckets, cmp.Records, humanBytes(cmp.Bytes))

	arc, err := archive.OpenMigrated(dst, dstOpt)
	if err != nil {
		return fmt.Errorf("migrate: open the copy: %w", err)
	}
	closeDst = func() { arc.Close() }
	rec, err := recorder.New(arc, recorder.Config{Prefix: "/"}, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	v, err := arc.FinishMigration(ctx, func(r *archive.Recording) ([][32]byte, error) { return rec.Exports(ctx, r) })
	for _, pr := range v.Problems {
		fmt.Fprintf(stdout, "INVALID\t%s\n", pr)
	}
	if err != nil {
		return fmt.Errorf("migrate: %w; the source is unchanged: run callvault verify on it, then empty the target and migrate again", err)
	}
	pending := ""
	if v.ExportsPending > 0 {
		pending = fmt.Sprintf(" (%d with their export hashes still to be sealed: the daemon seals them when it starts)", v.ExportsPending)
	}
	fmt.Fprintf(stdout, "migrate: verified the copy: %d recordings (every chunk, seal and signature)%s and the seal chain of %d entries\n", v.Recordings, pending, v.ChainEntries)
	if err := arc.Close(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "migrate: done. Point the daemon at %s (callvault serve --config %s, or install it as the configuration) and start it. The source is unchanged; keep it until the daemon runs on the copy.\n", *to, *to)
	return nil
}

// archiveKeyOptions are the archive options of cfg that unlock it.
func archiveKeyOptions(cfg *Config) (archive.Options, error) {
	pass, err := cfg.passphrase()
	if err != nil {
		return archive.Options{}, err
	}
	opt := archive.Options{Passphrase: pass}
	if pass == nil {
		opt.KeyFile = cfg.keyFile()
	}
	return opt, nil
}

// openMigrateEnd opens the store cfg names, as a migration's source (read
// only) or target. On bbolt a file a daemon holds is refused. On
// PostgreSQL a database other sessions are connected to is refused (a
// daemon may run on it), and the source's writer lock is held for the
// whole copy, so that a daemon started meanwhile cannot write to it.
func openMigrateEnd(ctx context.Context, cfg *Config, source bool, stdout io.Writer) (archive.MigrateEnd, func(), error) {
	end := archive.MigrateEnd{Path: cfg.dbPath()}
	if cfg.Storage.Backend == backendBolt {
		if source {
			s, err := archive.OpenBoltSource(end.Path, time.Second)
			if err != nil {
				return end, nil, inUseMessage(err)
			}
			end.Store = s
			return end, func() { s.Close() }, nil
		}
		s, err := archive.OpenBoltTarget(end.Path, time.Second)
		if err != nil {
			return end, nil, inUseMessage(err)
		}
		end.Store = s
		return end, func() { s.Close() }, nil
	}
	octx, cancel := context.WithTimeout(ctx, storeOpenTimeout)
	defer cancel()
	s, err := openPostgresStore(octx, &cfg.Storage)
	if err != nil {
		return end, nil, err
	}
	// A daemon just stopped: its sessions end on the server a moment
	// after it closed them.
	var others []string
	for wait := time.Now().Add(sessionsGrace); ; time.Sleep(100 * time.Millisecond) {
		if others, err = s.OtherSessions(octx); err != nil {
			s.Close()
			return end, nil, errors.New(redactURL(err.Error()))
		}
		if len(others) == 0 || time.Now().After(wait) {
			break
		}
	}
	if len(others) > 0 {
		s.Close()
		return end, nil, fmt.Errorf("%d other sessions are connected to the database (%s): stop every daemon working on this archive first", len(others), strings.Join(others, "; "))
	}
	end.Store = s
	if !source {
		return end, func() { s.Close() }, nil
	}
	release, err := s.HoldWriterLock(octx)
	if errors.Is(err, pgkv.ErrWriterBusy) {
		s.Close()
		return end, nil, errors.New("another process is writing to the archive: stop every daemon working on it first")
	}
	if err != nil {
		s.Close()
		return end, nil, errors.New(redactURL(err.Error()))
	}
	fmt.Fprintln(stdout, "migrate: holding the source database's writer lock: no daemon can write to it until the copy ends")
	return end, func() { release(); s.Close() }, nil
}

// sessionsGrace is how long a migration waits for other sessions on a
// database to end before it refuses.
const sessionsGrace = 5 * time.Second

// sameFile reports whether a and b name the same file.
func sameFile(a, b string) bool {
	if fa, err := os.Stat(a); err == nil {
		if fb, err := os.Stat(b); err == nil {
			return os.SameFile(fa, fb)
		}
	}
	aa, _ := filepath.Abs(a)
	ab, _ := filepath.Abs(b)
	return aa == ab
}
