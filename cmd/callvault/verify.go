package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/recinfo"
	"github.com/callvault/callvault/recorder"
)

func runVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if isZipVerify(args) {
		return runVerifyZip(args, stdout, stderr)
	}
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	config := fs.String("config", "", "TOML configuration file")
	data := fs.String("data", "", "data directory of a stopped appliance")
	keyFile := fs.String("key-file", "", "archive key file")
	ids, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	cfg, err := loadConfig(*config)
	if err != nil {
		return err
	}
	if *data != "" {
		cfg.Archive.Data = *data
	}
	if *keyFile != "" {
		cfg.Archive.KeyFile = *keyFile
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	log := slog.New(slog.DiscardHandler)
	arc, err := openArchive(&cfg, log)
	if err != nil {
		return err
	}
	defer arc.Close()
	rec, err := recorder.New(arc, recorder.Config{Prefix: "/"}, log)
	if err != nil {
		return err
	}
	exports := func(r *archive.Recording) ([][32]byte, error) { return rec.Exports(ctx, r) }

	if len(ids) == 0 {
		// Every stored recording, not a list: a list walks the time
		// index, which an edit of the file can hide recordings from.
		stored, err := arc.Stored(ctx)
		if err != nil {
			return damageHint(err, &cfg)
		}
		for _, id := range stored {
			ids = append(ids, id.String())
		}
	}
	bad := 0
	for _, s := range ids {
		id, err := archive.ParseID(s)
		if err != nil {
			fmt.Fprintf(stdout, "%s\tINVALID\tnot a recording id\n", s)
			bad++
			continue
		}
		res, err := arc.Verify(ctx, id, exports)
		switch {
		case errors.Is(err, archive.ErrNotFound):
			fmt.Fprintf(stdout, "%s\tINVALID\tnot found\n", s)
			bad++
		case err != nil:
			return damageHint(err, &cfg)
		case res.Valid:
			fmt.Fprintf(stdout, "%s\tok%s%s\n", s, pendingNote(res), maskNote(ctx, arc, id))
		default:
			bad++
			fmt.Fprintf(stdout, "%s\tINVALID\t%v\n", s, res.Problems)
		}
	}
	chain, err := arc.VerifyChain(ctx)
	if err != nil {
		return damageHint(err, &cfg)
	}
	if chain.Valid {
		fmt.Fprintln(stdout, "chain\tok")
	} else {
		bad++
		fmt.Fprintf(stdout, "chain\tINVALID\t%v\n", chain.Problems)
	}
	if bad > 0 {
		fmt.Fprintf(stderr, "verify: %d problem(s) found\n", bad)
		return exitError(2)
	}
	fmt.Fprintf(stdout, "verified %d recording(s)\n", len(ids))
	return nil
}

// maskNote says, for a recording whose capture was masked at ingest, that
// the sealed original is the upload with the masks applied, with the
// keyed hash of the upload as received; "" for others.
func maskNote(ctx context.Context, arc *archive.Archive, id archive.ID) string {
	rec, err := arc.Get(ctx, id)
	if err != nil {
		return ""
	}
	m := recinfo.ParseLenient(rec.Info).Masking
	if m == nil {
		return ""
	}
	return fmt.Sprintf("\tthe sealed original is the upload with %d masked stretch(es) and %d event digit(s) overwritten; upload as received hmac-sha256 %s (keyed: only this appliance can check an upload against it)",
		len(m.Spans), m.EventPackets, m.ReceivedHMAC)
}

// damageHint adds what to do to an error that says the archive file is
// damaged.
func damageHint(err error, cfg *Config) error {
	if !errors.Is(err, archive.ErrCorrupt) {
		return err
	}
	return fmt.Errorf("%w\n  The archive in %s is damaged. With the daemon stopped, copy what still authenticates into a new data directory:\n    callvault salvage --data %s --out NEWDIR\n  and keep the damaged directory for analysis", err, cfg.Archive.Data, cfg.Archive.Data)
}

// pendingNote says, for a recording whose export hashes are not sealed
// yet (they follow the upload's answer in a second chain entry), that
// they were not checked; "" for others.
func pendingNote(res *archive.VerifyResult) string {
	if !res.ExportsPending {
		return ""
	}
	return "\texport hashes pending: original, map and metadata verified; the WAV hashes are sealed in a second chain entry shortly after the upload"
}
