// Package testcorpus finds the shared capture corpus for tests:
// ../shared/testdata/pcap beside the module's root (see
// ../shared/testdata/pcap/README.md), and compares decoded audio with the
// corpus's reference WAVs (NCC).
//
// Without the corpus a test is skipped, loudly; under CI=true it fails,
// since CI must check the corpus out and a skip there would hide that the
// decoders were never run against real captures.
package testcorpus

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// Dir returns the corpus directory, or skips tb (fails it under CI=true)
// when the corpus is missing.
func Dir(tb testing.TB) string {
	tb.Helper()
	root, err := moduleRoot()
	if err != nil {
		missing(tb, err.Error())
		return ""
	}
	return dirIn(tb, root)
}

// dirIn is Dir for the module rooted at root.
func dirIn(tb testing.TB, root string) string {
	tb.Helper()
	dir := filepath.Join(root, "..", "shared", "testdata", "pcap")
	if _, err := os.Stat(dir); err != nil {
		missing(tb, "capture corpus not found at "+dir+" ("+err.Error()+"); check out ../shared beside the repository")
		return ""
	}
	return dir
}

func missing(tb testing.TB, why string) {
	tb.Helper()
	if os.Getenv("CI") == "true" {
		tb.Fatalf("%s: CI must provide the capture corpus", why)
	}
	tb.Skipf("SKIPPING CORPUS TEST: %s", why)
}

// moduleRoot is the nearest directory above the working directory (a
// test's package directory) that holds go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the test's directory, so the capture corpus cannot be located")
		}
		dir = parent
	}
}
