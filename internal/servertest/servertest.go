// Package servertest starts real servers for tests, on 127.0.0.1 and a
// free port, each private to the test that asked and removed when it ends:
// a PostgreSQL cluster (initdb and pg_ctl from Debian's postgresql) and the
// Versity S3 gateway (versitygw, POSIX backend) for S3-compatible object
// storage.
//
// PostgreSQL refuses to run as root, so under root the cluster belongs to
// the unprivileged postgres user (its programs run with that user's
// credentials). Where a server's programs are
// missing the test is skipped, loudly, with the reason; under CI=true it
// fails instead, since a skip there would hide that the tests never ran.
// Every process is stopped by t.Cleanup, also when the test fails.
package servertest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startTimeout bounds how long a server may take to accept connections.
const startTimeout = 60 * time.Second

// unavailable skips tb, or fails it under CI=true.
func unavailable(tb testing.TB, format string, args ...any) {
	tb.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		tb.Fatalf("%s (CI=true: the server must be installed; see .ci/run)", msg)
	}
	tb.Skipf("SKIPPING: %s", msg)
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// waitListening waits until addr accepts TCP connections or the process
// ends or the deadline passes.
func waitListening(addr string, exited <-chan struct{}) error {
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("the server exited before listening on %s", addr)
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("nothing listens on %s after %v", addr, startTimeout)
}

// Postgres is a private PostgreSQL cluster.
type Postgres struct {
	Port int
	dir  string
	bin  string
	cred *syscall.Credential // the postgres user's, when running as root
}

// pgBinDir finds initdb: on PATH, or in Debian's versioned directories.
func pgBinDir() string {
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real // Debian's wrappers link to the versioned directory
		}
		return filepath.Dir(p)
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	for i := len(dirs) - 1; i >= 0; i-- {
		if _, err := os.Stat(filepath.Join(dirs[i], "initdb")); err == nil {
			return dirs[i]
		}
	}
	return ""
}

// StartPostgres starts a cluster in a new temporary directory, listening
// on 127.0.0.1 only, with trust authentication; it is stopped and removed
// when tb ends. Commits are durable (fsync on), as in production. The
// server is a child of the test process that the kernel stops
// (SIGQUIT, PostgreSQL's immediate shutdown) should the test process die
// before its cleanup runs.
func StartPostgres(tb testing.TB) *Postgres {
	tb.Helper()
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	return StartPostgresIn(tb, dir)
}

// StartPostgresIn starts a cluster kept in dir, for benchmarks whose data
// takes long to build: initdb makes it on first use, later calls start
// the cluster found there. It is stopped, and dir kept, when tb ends.
// Run as root, the cluster belongs to the postgres user, who must be able
// to reach dir: its parent directories must be searchable by others.
func StartPostgresIn(tb testing.TB, dir string) *Postgres {
	tb.Helper()
	bin := pgBinDir()
	if bin == "" {
		unavailable(tb, "PostgreSQL's initdb is neither on PATH nor in /usr/lib/postgresql/*/bin (apt-get install postgresql)")
	}
	pg := &Postgres{bin: bin, dir: dir}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		tb.Fatal(err)
	}
	if os.Geteuid() == 0 {
		// initdb refuses root: the cluster belongs to the postgres user.
		u, err := user.Lookup("postgres")
		if err != nil {
			unavailable(tb, "running as root and there is no postgres user to run the cluster as: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		pg.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			tb.Fatal(err)
		}
	}
	data := filepath.Join(dir, "data")
	if _, err := os.Stat(filepath.Join(data, "PG_VERSION")); err != nil {
		if out, err := pg.command("initdb", "--no-sync", "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "-D", data).CombinedOutput(); err != nil {
			tb.Fatalf("initdb: %v\n%s", err, out)
		}
	}
	pg.start(tb, data)
	return pg
}

// start runs the cluster in data on a free port.
func (pg *Postgres) start(tb testing.TB, data string) {
	tb.Helper()
	dir := pg.dir
	pg.Port = launch(tb, "postgres", syscall.SIGQUIT, func(port int) *exec.Cmd {
		return pg.command("postgres", "-D", data, "-c", "listen_addresses=127.0.0.1", "-p", strconv.Itoa(port),
			"-c", "unix_socket_directories="+dir, "-c", "max_connections=200")
	}, pg.waitReady)
}

// waitReady waits until the server accepts connections (pg_isready).
func (pg *Postgres) waitReady(port int, exited <-chan struct{}) error {
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		if pg.command("pg_isready", "-q", "-h", "127.0.0.1", "-p", strconv.Itoa(port)).Run() == nil {
			return nil
		}
		select {
		case <-exited:
			return errors.New("the server exited before it was ready")
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("not ready after %v", startTimeout)
}

// command runs one of the cluster's programs as the cluster's owner.
func (pg *Postgres) command(prog string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(pg.bin, prog), args...)
	cmd.Dir = pg.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: pg.cred}
	cmd.WaitDelay = startTimeout
	return cmd
}

// URL returns the connection URL of database db.
func (pg *Postgres) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", pg.Port, db)
}

// NewDatabase creates an empty database with a fresh name and returns its
// connection URL.
func (pg *Postgres) NewDatabase(tb testing.TB) string {
	tb.Helper()
	return pg.Database(tb, "t"+randomHex(8))
}

// Database creates database name (lower-case letters and digits) unless
// it exists, and returns its connection URL.
func (pg *Postgres) Database(tb testing.TB, name string) string {
	tb.Helper()
	psql := func(sql string) (string, error) {
		out, err := pg.command("psql", "-X", "-q", "-At", "-h", "127.0.0.1", "-p", strconv.Itoa(pg.Port), "-U", "postgres", "-d", "postgres", "-c", sql).CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	if out, err := psql("SELECT 1 FROM pg_database WHERE datname = '" + name + "'"); err == nil && out == "1" {
		return pg.URL(name)
	}
	if out, err := psql("CREATE DATABASE " + name); err != nil {
		tb.Fatalf("create database: %v\n%s", err, out)
	}
	return pg.URL(name)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// S3 is a private Versity S3 gateway on a POSIX directory.
type S3 struct {
	Endpoint  string // http://127.0.0.1:PORT
	AccessKey string
	SecretKey string
	Dir       string // the gateway's root: one directory per bucket
}

// versitygwPath finds versitygw on PATH or in $(go env GOPATH)/bin.
func versitygwPath() string {
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
			gopath = strings.TrimSpace(string(out))
		}
	}
	for _, g := range filepath.SplitList(gopath) {
		p := filepath.Join(g, "bin", "versitygw")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// StartS3 starts versitygw with fresh root credentials on a new directory;
// it is stopped and the directory removed when tb ends. The gateway checks
// SigV4 signatures and the x-amz-content-sha256 header.
func StartS3(tb testing.TB) *S3 {
	tb.Helper()
	return StartS3In(tb, tb.TempDir())
}

// StartS3In starts versitygw on dir/root with the root credentials kept
// in dir/keys, made on first use: a later call serves the same buckets
// and objects. The gateway is stopped, and dir kept, when tb ends.
func StartS3In(tb testing.TB, dir string) *S3 {
	tb.Helper()
	bin := versitygwPath()
	if bin == "" {
		unavailable(tb, "versitygw is neither on PATH nor in $(go env GOPATH)/bin (go install github.com/versity/versitygw/cmd/versitygw@v1.8.0)")
	}
	s := &S3{Dir: filepath.Join(dir, "root")}
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		tb.Fatal(err)
	}
	keys := filepath.Join(dir, "keys")
	if b, err := os.ReadFile(keys); err == nil {
		if k := strings.Fields(string(b)); len(k) == 2 {
			s.AccessKey, s.SecretKey = k[0], k[1]
		}
	}
	if s.AccessKey == "" {
		s.AccessKey, s.SecretKey = "test"+randomHex(6), randomHex(20)
		if err := os.WriteFile(keys, []byte(s.AccessKey+" "+s.SecretKey+"\n"), 0o600); err != nil {
			tb.Fatal(err)
		}
	}
	port := launch(tb, "versitygw", syscall.SIGKILL, func(port int) *exec.Cmd {
		cmd := exec.Command(bin, "--port", fmt.Sprintf("127.0.0.1:%d", port), "posix", s.Dir)
		cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+s.AccessKey, "ROOT_SECRET_KEY="+s.SecretKey)
		return cmd
	}, func(port int, exited <-chan struct{}) error {
		return waitListening(fmt.Sprintf("127.0.0.1:%d", port), exited)
	})
	s.Endpoint = fmt.Sprintf("http://127.0.0.1:%d", port)
	return s
}

// launch starts the server that build makes for a free port and waits
// until ready says it serves, trying another port when the one chosen was
// taken in between. The server is a child of the test process, stopped
// with sig when tb ends or, by the kernel, when the test process dies.
func launch(tb testing.TB, what string, sig syscall.Signal, build func(port int) *exec.Cmd, ready func(port int, exited <-chan struct{}) error) int {
	tb.Helper()
	for attempt := 0; ; attempt++ {
		port := freePort(tb)
		var logBuf bytes.Buffer
		cmd := build(port)
		cmd.Stdout, cmd.Stderr = &logBuf, &logBuf
		if cmd.SysProcAttr == nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{}
		}
		cmd.SysProcAttr.Pdeathsig = sig
		if err := cmd.Start(); err != nil {
			tb.Fatalf("start %s: %v", what, err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		if err := ready(port, exited); err != nil {
			cmd.Process.Signal(sig)
			<-exited
			if attempt < 3 && strings.Contains(logBuf.String(), "in use") {
				continue
			}
			tb.Fatalf("%s: %v\n%s", what, err, logBuf.String())
		}
		tb.Cleanup(func() {
			cmd.Process.Signal(sig)
			<-exited
		})
		return port
	}
}
