package servertest

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// outcomeTB records how a helper ended the test.
type outcomeTB struct {
	testing.TB
	fatal, skip string
}

func (o *outcomeTB) Helper() {}
func (o *outcomeTB) Fatalf(format string, args ...any) {
	o.fatal = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (o *outcomeTB) Skipf(format string, args ...any) {
	o.skip = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func outcome(t *testing.T, ci string) *outcomeTB {
	t.Setenv("CI", ci)
	o := &outcomeTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		unavailable(o, "no server")
	}()
	<-done
	return o
}

// TestUnavailable: a missing server skips the test, loudly, and fails it
// under CI=true.
func TestUnavailable(t *testing.T) {
	if o := outcome(t, ""); o.skip == "" || o.fatal != "" {
		t.Errorf("without CI: skip %q, fatal %q; want a skip", o.skip, o.fatal)
	}
	if o := outcome(t, "true"); o.fatal == "" || o.skip != "" {
		t.Errorf("under CI=true: skip %q, fatal %q; want a failure", o.skip, o.fatal)
	}
}

// TestServers: both servers start, serve on 127.0.0.1, and are gone when
// their test ends.
func TestServers(t *testing.T) {
	var pgPort int
	var s3Addr string
	t.Run("start", func(t *testing.T) {
		pg := StartPostgres(t)
		pg.NewDatabase(t)
		s3 := StartS3(t)
		pgPort, s3Addr = pg.Port, s3.Endpoint[len("http://"):]
		for _, addr := range []string{"127.0.0.1:" + strconv.Itoa(pgPort), s3Addr} {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			c.Close()
		}
	})
	if t.Failed() || pgPort == 0 {
		return
	}
	for _, addr := range []string{"127.0.0.1:" + strconv.Itoa(pgPort), s3Addr} {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			t.Errorf("%s still serves after its test ended", addr)
		}
	}
}

// TestServersKeptIn: a cluster and a gateway started in a directory keep
// their data there: started again in it, the database made before is
// there and the gateway has the same keys and buckets.
func TestServersKeptIn(t *testing.T) {
	dir, err := os.MkdirTemp("", "servertest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil { // for the postgres user
		t.Fatal(err)
	}
	var keys [2]string
	t.Run("first", func(t *testing.T) {
		pg := StartPostgresIn(t, filepath.Join(dir, "pg"))
		pg.Database(t, "kept")
		s3 := StartS3In(t, filepath.Join(dir, "s3"))
		keys = [2]string{s3.AccessKey, s3.SecretKey}
		if err := os.Mkdir(filepath.Join(s3.Dir, "bucket"), 0o700); err != nil {
			t.Fatal(err)
		}
	})
	if t.Failed() || keys[0] == "" {
		return
	}
	pg := StartPostgresIn(t, filepath.Join(dir, "pg"))
	out, err := pg.command("psql", "-X", "-At", "-h", "127.0.0.1", "-p", strconv.Itoa(pg.Port), "-U", "postgres", "-d", "postgres",
		"-c", "SELECT datname FROM pg_database WHERE datname = 'kept'").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "kept" {
		t.Fatalf("database made before: %q, %v", out, err)
	}
	s3 := StartS3In(t, filepath.Join(dir, "s3"))
	if [2]string{s3.AccessKey, s3.SecretKey} != keys {
		t.Fatal("the gateway's keys changed")
	}
	if _, err := os.Stat(filepath.Join(s3.Dir, "bucket")); err != nil {
		t.Fatal(err)
	}
}
