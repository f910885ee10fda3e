package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/callvault/callvault/archive"
)

const keyUsage = "usage: callvault key rotate [--config FILE] [--data DIR] [--key-file FILE]   (daemon stopped)"

// runKey is `callvault key rotate`: the archive key file rotated offline,
// daemon stopped, with the archive's own rotation (the UI's and the API's):
// a new key in the configured key file (through its link, if it is one),
// the old one kept beside it, both owned like the old file.
func runKey(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "rotate" {
		fmt.Fprintln(stderr, keyUsage)
		return errors.New("key: the only command is rotate")
	}
	var so storeOptions
	fs := newFlagSet("key rotate", stderr)
	so.flags(fs)
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fmt.Fprintln(stderr, keyUsage)
		return errors.New("key rotate: unexpected arguments")
	}
	cfg, err := so.load()
	if err != nil {
		return err
	}
	if pass, err := cfg.passphrase(); err != nil {
		return err
	} else if pass != nil {
		clear(pass)
		return errors.New("key rotate: the archive is unlocked with a passphrase (archive.passphrase_file or $CALLVAULT_PASSPHRASE); change it in the UI or the API")
	}
	if cfg.Storage.Backend != backendPostgres {
		if err := archive.CheckNotInUse(cfg.dbPath(), time.Second); err != nil {
			return fmt.Errorf("key rotate: %w", inUseMessage(err))
		}
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	arc, err := openArchive(&cfg, log)
	if err != nil {
		return fmt.Errorf("key rotate: %w", inUseMessage(err))
	}
	defer arc.Close()
	keyFile := cfg.keyFile()
	old, err := arc.RotateKey(ctx, keyFile)
	if err != nil {
		return fmt.Errorf("key rotate: %w", err)
	}
	fmt.Fprintf(stdout, "key rotate: %s holds the new archive key; keep a copy apart from the data\n", keyFile)
	if old != "" {
		fmt.Fprintf(stdout, "key rotate: the old key is in %s: backups made before need it; delete it once none does\n", old)
	}
	return arc.Close()
}
