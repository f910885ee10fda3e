package depcheck

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// tb records what a check reports instead of failing the test that runs it.
type tb struct {
	testing.TB
	errs  []string
	fatal bool
}

func (r *tb) Helper() {}

func (r *tb) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *tb) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	r.fatal = true
	runtime.Goexit()
}

func run(t *testing.T, check func(testing.TB)) *tb {
	r := &tb{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		check(r)
	}()
	<-done
	return r
}

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name  string
		check func(testing.TB)
		want  string // "" when the check passes
	}{
		{"allowed", func(t testing.TB) { Check(t, "../../recinfo", "codec") }, ""},
		{"not allowed", func(t testing.TB) { Check(t, "../../recinfo") }, "recinfo depends on github.com/callvault/callvault/codec"},
		{"indirect", func(t testing.TB) { Check(t, "../../recorder", "recinfo", "recorder/capture", "recorder/sip") },
			"recorder depends on go.etcd.io/bbolt;"},
		{"allowed with what it uses", func(t testing.TB) { Check(t, "../../webdav", "archive", "github.com/emersion/go-webdav/...") }, ""},
		{"pattern", func(t testing.TB) {
			Check(t, "../../ui", "archive", "recinfo", "codeberg.org/go-pdf/fpdf", "golang.org/x/image/font/gofont")
		}, "ui depends on golang.org/x/image/font/gofont/gobold"},
		{"tests", func(t testing.TB) { CheckTests(t, "../pcapwrite") }, "pcapwrite depends on github.com/callvault/callvault/recorder/capture"},
		{"store outside archive", func(t testing.TB) { Check(t, "./testdata/store", "go.etcd.io/bbolt/...") },
			"store imports go.etcd.io/bbolt; only archive, share and webhook may touch a store"},
		{"store below", func(t testing.TB) { Check(t, "./testdata/storeuser", "internal/depcheck/testdata/store") },
			"testdata/store imports go.etcd.io/bbolt; only archive, share and webhook may touch a store"},
		{"store in archive", func(t testing.TB) { Check(t, "../../archive/archivetest", "archive", "internal/testdisk") }, ""},
		{"store in share", func(t testing.TB) {
			Check(t, "../../share", "archive", "archive/seal", "recinfo", "codec", "mail", "internal/byterange", "internal/i18n", "internal/listening", "internal/ratelimit", "internal/slotfile", "go.etcd.io/bbolt/...")
		}, ""},
		{"forbid", func(t testing.TB) { Forbid(t, "../../archive", "golang.org/x/crypto/...") }, "archive depends on golang.org/x/crypto/argon2"},
		{"forbid standard", func(t testing.TB) { Forbid(t, "../../ui", "net/http") }, "ui depends on net/http,"},
		{"forbid none", func(t testing.TB) { Forbid(t, "../../codec", "testing/...", "net/http/...") }, ""},
		{"imported in its file", func(t testing.TB) { ImportedOnlyIn(t, "./testdata/store", "go.etcd.io/bbolt/...", "store.go") }, ""},
		{"imported elsewhere", func(t testing.TB) { ImportedOnlyIn(t, "./testdata/store", "go.etcd.io/bbolt/...") },
			"testdata/store/store.go imports go.etcd.io/bbolt; the files that may: none"},
		{"imported file missing", func(t testing.TB) {
			ImportedOnlyIn(t, "./testdata/storeuser", "go.etcd.io/bbolt/...", "storeuser.go", "gone.go")
		}, "no file gone.go"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, tc.check)
			if r.fatal {
				t.Fatalf("check stopped: %q", r.errs)
			}
			if tc.want == "" {
				if len(r.errs) > 0 {
					t.Errorf("check failed: %q", r.errs)
				}
				return
			}
			if !strings.Contains(strings.Join(r.errs, "\n"), tc.want) {
				t.Errorf("check reported %q, want it to say %q", r.errs, tc.want)
			}
		})
	}
}

// TestCannotList checks that a check that cannot list the dependencies
// fails the test and stops it; it never passes or skips.
func TestCannotList(t *testing.T) {
	for _, check := range []func(testing.TB){
		func(t testing.TB) { Check(t, "./nosuchpackage") },
		func(t testing.TB) { CheckTests(t, "./nosuchpackage") },
		func(t testing.TB) { Forbid(t, "./nosuchpackage", "testing") },
		func(t testing.TB) { Check(t, "./testdata/nosuchpackage/...") },
		func(t testing.TB) { ImportedOnlyIn(t, "./testdata/nosuchpackage", "testing") },
	} {
		r := run(t, check)
		if !r.fatal || len(r.errs) == 0 {
			t.Errorf("check went on: fatal %v, errors %q", r.fatal, r.errs)
		}
	}
}

// TestDependencies keeps depcheck on the standard library alone, so that
// every package's tests may use it.
func TestDependencies(t *testing.T) {
	CheckTests(t, ".")
}
