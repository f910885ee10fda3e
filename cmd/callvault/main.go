// Command callvault is the call-recording appliance: the daemon and the
// tools around it, in one binary. `callvault help` prints the arguments of
// each command:
//
//	serve    run the appliance: capture upload, web pages, JSON API, WebDAV
//	decode   turn a capture into WAV files without a daemon
//	verify   check seals and the seal chain of a data directory offline, or a
//	         downloaded zip
//	loadgen  stream synthetic calls to a running appliance
//	config   check a configuration file, or create an archive key
//	key      rotate the archive key file, daemon stopped
//	backup   snapshot the archive, external links and webhooks through the
//	         running daemon
//	restore  put a backup in place, daemon stopped
//	compact  shrink the archive file, daemon stopped
//	salvage  copy what still authenticates in a damaged archive to a new data
//	         directory, daemon stopped
//	migrate  copy the archive to another store (bbolt, PostgreSQL + S3) and
//	         verify the copy, daemon stopped, resumable
//	import   load pcap files and folders, resumable
//	version  print the version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		var ee exitError
		if errors.As(err, &ee) {
			os.Exit(int(ee)) // the command has said what is wrong
		}
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "callvault:", err)
		}
		os.Exit(1)
	}
}

// exitError asks main for a specific exit status; its message was printed.
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

const usage = `usage: callvault <command> [arguments]

commands:
  serve    run the appliance (callvault serve [--config FILE] [--data DIR] [--listen ADDR])
  decode   turn a capture into WAV files without a daemon (callvault decode IN [-o OUT.wav] [--mono] [--json])
  verify   check seals and the seal chain offline (callvault verify --data DIR [ID...]),
           or a downloaded zip (callvault verify FILE.zip [--pubkey KEY])
  loadgen  stream synthetic calls to a running appliance (callvault loadgen --streams N --duration D --url URL)
  config   check a configuration file, or create an archive key (callvault config check|keygen FILE)
  key      rotate the archive key file, daemon stopped (callvault key rotate [--config FILE])
  backup   snapshot the archive, external links and webhooks through the running daemon
           (callvault backup --out FILE [--url URL])
  restore  put a backup (archive, external links, webhooks) in place, daemon stopped
           (callvault restore --in FILE [--data DIR])
  compact  shrink the archive file, daemon stopped (callvault compact [--data DIR])
  salvage  copy what still authenticates in a damaged archive to a new data directory,
           daemon stopped (callvault salvage --data DIR --out NEWDIR)
  migrate  copy the archive into the store another configuration names (bbolt or postgres+s3),
           resumable, then verify the copy; daemon stopped (callvault migrate --to-config NEW.toml)
  import   load pcap files and folders, resumable (callvault import [--url URL | --data DIR [--keep-call-time]] PATH...)
  version  print the version
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	switch args[0] {
	case "serve":
		return runServe(ctx, args[1:], stdout, stderr)
	case "decode":
		return runDecode(ctx, args[1:], stdout, stderr)
	case "verify":
		return runVerify(ctx, args[1:], stdout, stderr)
	case "config":
		return runConfig(ctx, args[1:], stdout, stderr)
	case "key":
		return runKey(ctx, args[1:], stdout, stderr)
	case "backup":
		return runBackup(ctx, args[1:], stdout, stderr)
	case "restore":
		return runRestore(ctx, args[1:], stdout, stderr)
	case "compact":
		return runCompact(ctx, args[1:], stdout, stderr)
	case "salvage":
		return runSalvage(ctx, args[1:], stdout, stderr)
	case "import":
		return runImport(ctx, args[1:], stdout, stderr)
	case "migrate":
		return runMigrate(ctx, args[1:], stdout, stderr)
	case "loadgen":
		return runLoadgen(ctx, args[1:], stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "callvault", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

// parseInterspersed parses flags that may come before or after positional
// arguments and returns the positional ones.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}
