package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/callvault/callvault/archive"
)

// runSalvage copies what still authenticates in a damaged data directory
// into a new one (archive.Salvage) and lists what it could not. Exit
// status 2 when anything was lost.
func runSalvage(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var so storeOptions
	var out string
	fs := newFlagSet("salvage", stderr)
	so.flags(fs)
	fs.StringVar(&out, "out", "", "new data directory to write (must not exist or be empty)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if out == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: callvault salvage --out NEWDIR [--config FILE] [--data DIR] [--key-file FILE]   (daemon stopped)")
		return errors.New("salvage: --out NEWDIR is required")
	}
	cfg, err := so.load()
	if err != nil {
		return err
	}
	if err := cfg.boltOnly("salvage"); err != nil {
		return err
	}
	src := cfg.dbPath()
	if _, err := os.Stat(src); err != nil {
		return fmt.Errorf("salvage: %w", err)
	}
	if abs, _ := filepath.Abs(out); abs == mustAbs(cfg.Archive.Data) {
		return errors.New("salvage: --out must be a new directory, not the data directory")
	}
	if ents, err := os.ReadDir(out); err == nil && len(ents) > 0 {
		return fmt.Errorf("salvage: %s is not empty", out)
	}
	pass, err := cfg.passphrase()
	if err != nil {
		return err
	}
	opt := archive.Options{Passphrase: pass}
	if pass == nil {
		opt.KeyFile = cfg.keyFile()
		if _, err := os.Stat(opt.KeyFile); err != nil {
			return fmt.Errorf("salvage: archive key %s: %w", opt.KeyFile, err)
		}
	}
	dst := filepath.Join(out, filepath.Base(src))
	fmt.Fprintf(stdout, "salvage: copying what still authenticates in %s to %s...\n", src, dst)
	res, err := archive.Salvage(ctx, src, dst, opt)
	if errors.Is(err, archive.ErrWrongKey) {
		return fmt.Errorf("salvage: %s does not open with the key %s", src, cfg.keyDescription())
	}
	if err != nil {
		return fmt.Errorf("salvage: %w", inUseMessage(err))
	}
	for _, l := range res.Lost {
		fmt.Fprintf(stdout, "%s\tLOST\t%s\n", l.ID, l.Reason)
	}
	for _, p := range res.Problems {
		fmt.Fprintf(stdout, "problem\t%s\n", p)
	}
	if res.StrayChunks > 0 {
		fmt.Fprintf(stdout, "salvage: %d chunk(s) whose references were damaged were found again in the chunk file (each authenticated)\n", res.StrayChunks)
	}
	chain := "verifies"
	if !res.Chain.Valid {
		chain = fmt.Sprintf("does NOT verify: %v", res.Chain.Problems)
	}
	fmt.Fprintf(stdout, "salvage: %d recording(s) copied, %d lost; %d seal-chain entries kept, %d recording(s) sealed again, %d tombstone(s) for lost recordings; %d user(s), %d note(s); the new seal chain %s\n",
		len(res.Recovered), len(res.Lost), res.ChainKept, res.Resealed, res.Tombstones, res.Users, res.Notes, chain)
	fmt.Fprintf(stdout, "salvage: %s opens with the same key; to use it, stop the daemon, keep %s aside and set archive.data to %s (or move it into place)\n",
		out, cfg.Archive.Data, out)
	if !res.Complete() || !res.Chain.Valid {
		fmt.Fprintf(stderr, "salvage: %d recording(s) and %d other item(s) could not be carried over\n", len(res.Lost), len(res.Problems))
		return exitError(2)
	}
	return nil
}

func mustAbs(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return a
}
