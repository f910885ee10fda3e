package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/callvault/callvault/archive"
)

func runCompact(_ context.Context, args []string, stdout, stderr io.Writer) error {
	var so storeOptions
	fs := newFlagSet("compact", stderr)
	so.flags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: callvault compact [--config FILE] [--data DIR]   (daemon stopped)")
		return errors.New("compact: unexpected arguments")
	}
	cfg, err := so.load()
	if err != nil {
		return err
	}
	if err := cfg.boltOnly("compact"); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "compact: rewriting %s without its free pages (needs free disk space up to its size)...\n", cfg.dbPath())
	start := time.Now()
	res, err := archive.Compact(cfg.dbPath(), time.Second)
	if err != nil {
		return fmt.Errorf("compact: %w", inUseMessage(err))
	}
	fmt.Fprintf(stdout, "compact: %s: %s → %s in %s\n", cfg.dbPath(), humanBytes(res.Before), humanBytes(res.After), time.Since(start).Round(time.Millisecond))
	return nil
}
