package main

import (
	"testing"

	"github.com/callvault/callvault/internal/depcheck"
)

// TestDependencies keeps the test helpers and package testing out of the
// daemon binary, and keeps cmd at the top: no package of the module
// imports a package under cmd.
func TestDependencies(t *testing.T) {
	depcheck.Check(t, ".", "archive", "archive/kv/pgkv", "recorder", "recorder/capture", "recinfo", "codec", "ui", "api", "webdav",
		"export", "foureyes", "share/...", "flex", "webhook", "mail", "internal/loadgen", "internal/bytesize", "internal/readahead",
		"github.com/pelletier/go-toml/v2/...", "github.com/prometheus/client_golang/...", "golang.org/x/sync/errgroup")
	depcheck.Forbid(t, ".", "testing/...")
	depcheck.Forbid(t, "../../...", "github.com/callvault/callvault/cmd/...")
}
