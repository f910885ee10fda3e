package archive

import (
	"errors"
	"path/filepath"
	"testing"
	"time"
)

// OpenTest opens a new archive in tb.TempDir() with a fresh key file and
// FastKDF; on cleanup it runs Check and closes the archive.
func OpenTest(tb testing.TB) *Archive {
	tb.Helper()
	return OpenTestOptions(tb, Options{})
}

// OpenTestOptions is OpenTest with options. Unset fields get test
// defaults: a key file in the temporary directory, FastKDF, a 10ms commit
// interval and a 64 MiB initial memory map. The clock is opt.Now (the wall
// clock when unset): a test that keeps a clock of its own, or stores
// fixed dates that rules compare with now, passes its clock here, so that
// the archive and the rest of the test read one clock.
func OpenTestOptions(tb testing.TB, opt Options) *Archive {
	tb.Helper()
	dir := tb.TempDir()
	if opt.KeyFile == "" && opt.Passphrase == nil {
		opt.KeyFile = filepath.Join(dir, "archive.key")
	}
	if opt.KDF == (KDFParams{}) {
		opt.KDF = FastKDF()
	}
	if opt.CommitInterval == 0 {
		opt.CommitInterval = 10 * time.Millisecond
	}
	if opt.InitialMmapSize == 0 {
		opt.InitialMmapSize = 64 << 20
	}
	a, err := Open(filepath.Join(dir, "archive.db"), opt)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := a.Check(); err != nil && !errors.Is(err, ErrClosed) {
			tb.Error(err)
		}
		if err := a.Close(); err != nil {
			tb.Error(err)
		}
	})
	return a
}
