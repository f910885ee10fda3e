package main

// callvault loadgen: synthetic devices that stream calls to an appliance;
// internal/loadgen does the work, this parses its flags.

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"time"

	"github.com/callvault/callvault/internal/loadgen"
)

func runLoadgen(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := loadgen.Config{Version: version}
	fs.IntVar(&cfg.Streams, "streams", 2, "RTP streams; each call carries 2 (one per direction), so N/2 calls; must be even")
	fs.DurationVar(&cfg.Duration, "duration", 60*time.Second, "length of each call")
	fs.StringVar(&cfg.URL, "url", "", "ingest collection URL, e.g. http://127.0.0.1:8080/recordings/Files/")
	fs.StringVar(&cfg.User, "user", "ingest", "ingest account")
	fs.StringVar(&cfg.Password, "password", "", "ingest password (default $CALLVAULT_INGEST_PASSWORD)")
	fs.DurationVar(&cfg.Ramp, "ramp", 5*time.Second, "spread call starts over this time")
	fs.StringVar(&cfg.Codec, "codec", "pcmu", "payload: pcmu or pcma")
	fs.BoolVar(&cfg.Verify, "verify", false, "after the uploads, read each recording back through the API and compare packet counts (needs --api-user)")
	fs.StringVar(&cfg.APIUser, "api-user", "", "account (admin) for --verify")
	fs.StringVar(&cfg.APIPassword, "api-password", "", "password for --api-user (default $CALLVAULT_ADMIN_PASSWORD)")
	fs.StringVar(&cfg.ReportFile, "report", "", "write a JSON summary to this file")
	fs.IntVar(&cfg.PID, "pid", 0, "daemon process to measure (CPU, RSS) during the steady state")
	fs.IntVar(&cfg.Schedulers, "schedulers", runtime.NumCPU(), "pacing goroutines")
	fs.BoolVar(&cfg.Insecure, "insecure", false, "do not verify the appliance's TLS certificate")
	fs.DurationVar(&cfg.ResponseTimeout, "response-timeout", time.Minute, "wait this long for the answer after a body ends")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("loadgen: unexpected argument %q", pos[0])
	}
	if cfg.Password == "" {
		cfg.Password = os.Getenv("CALLVAULT_INGEST_PASSWORD")
	}
	if cfg.APIPassword == "" {
		cfg.APIPassword = os.Getenv("CALLVAULT_ADMIN_PASSWORD")
	}
	return loadgen.Run(ctx, cfg, stdout, stderr)
}
