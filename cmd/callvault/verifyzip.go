package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/callvault/callvault/export"
)

// isZipVerify reports whether verify was given a downloaded zip rather
// than recording ids.
func isZipVerify(args []string) bool {
	for _, a := range args {
		if strings.HasSuffix(strings.ToLower(a), ".zip") && !strings.HasPrefix(a, "-") {
			return true
		}
	}
	return false
}

// runVerifyZip is `callvault verify FILE.zip [--pubkey KEY]`: it checks a
// zip downloaded from the appliance offline, prints what it checked, and
// exits non-zero naming every file that does not match.
func runVerifyZip(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("verify", stderr)
	pubArg := fs.String("pubkey", "", "the appliance's public key: a PEM file, or 64 hex digits, or base64 (default: the key inside the zip)")
	files, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return errors.New("verify: no zip file given")
	}
	var pub []byte
	if *pubArg != "" {
		b := []byte(*pubArg)
		if fb, err := os.ReadFile(*pubArg); err == nil {
			b = fb
		}
		k, err := export.ParsePublicKey(b)
		if err != nil {
			return fmt.Errorf("verify: --pubkey: %w", err)
		}
		pub = k
	}
	bad := 0
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return fmt.Errorf("verify: %w", err)
		}
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return fmt.Errorf("verify: %w", err)
		}
		rep, err := export.VerifyZip(f, fi.Size(), pub)
		f.Close()
		if err != nil {
			fmt.Fprintf(stdout, "%s\tINVALID\t%v\n", name, err)
			bad++
			continue
		}
		for _, c := range rep.Checked {
			fmt.Fprintf(stdout, "%s\tok\t%s\n", name, c)
		}
		for _, p := range rep.Problems {
			fmt.Fprintf(stdout, "%s\tINVALID\t%s\n", name, p)
		}
		if !rep.OK() {
			bad++
			continue
		}
		if rep.KeyFromZip {
			fmt.Fprintf(stdout, "%s\tok\trecording %s (checked with the key inside the zip, fingerprint %s: pass --pubkey with the appliance's key to prove the origin)\n", name, rep.Recording, rep.KeyFingerprint)
		} else {
			fmt.Fprintf(stdout, "%s\tok\trecording %s, key %s\n", name, rep.Recording, rep.KeyFingerprint)
		}
	}
	if bad > 0 {
		fmt.Fprintf(stderr, "verify: %d zip file(s) do not verify\n", bad)
		return exitError(2)
	}
	return nil
}
