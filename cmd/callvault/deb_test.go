package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDebPackage builds the .deb with packaging/build-deb.sh, checks its
// contents, conffile, maintainer scripts and unit (systemd-analyze
// verify), and, as root on Debian, installs it with dpkg -i: the user
// exists, the key is created outside the state directory, in a key
// directory of the daemon's own that /etc/callvault/callvault.key links
// to, and the installed binary serves HTTPS as that user with the packaged
// config and rotates the key through the API. Then the key is put back
// where older versions kept it (the file itself at
// /etc/callvault/callvault.key) and the package is installed again, as an
// upgrade: the key moves into the key directory and rotates.
func TestDebPackage(t *testing.T) {
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("SKIPPING: the package is built for linux/amd64")
	}
	for _, tool := range []string{"dpkg-deb", "systemd-analyze"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s missing on CI (apt-get install dpkg systemd)", tool)
			}
			t.Skipf("SKIPPING: %s not installed (apt-get install dpkg systemd)", tool)
		}
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "callvault")
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-X main.version=9.8.7", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command("sh", filepath.Join("..", "..", "packaging", "build-deb.sh"), "9.8.7", bin, dir).CombinedOutput()
	if err != nil {
		t.Fatalf("build-deb.sh: %v\n%s", err, out)
	}
	deb := strings.TrimSpace(string(out))
	if filepath.Base(deb) != "callvault_9.8.7_amd64.deb" {
		t.Fatalf("package named %s", deb)
	}
	run := func(name string, args ...string) string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(name, args...)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s %v: %v\n%s%s", name, args, err, stdout.String(), stderr.String())
		}
		return stdout.String() + stderr.String()
	}
	contents := run("dpkg-deb", "-c", deb)
	for _, want := range []string{"./usr/bin/callvault", "./usr/lib/systemd/system/callvault.service", "-rw-r----- root/root", "./etc/callvault/callvault.toml"} {
		if !strings.Contains(contents, want) {
			t.Errorf("package contents lack %q:\n%s", want, contents)
		}
	}
	if strings.Contains(contents, "callvault.key") || strings.Contains(contents, "/var/lib/callvault/") {
		t.Errorf("package ships a key or state:\n%s", contents)
	}
	ctrl := filepath.Join(dir, "control")
	run("dpkg-deb", "-e", deb, ctrl)
	if b, _ := os.ReadFile(filepath.Join(ctrl, "conffiles")); strings.TrimSpace(string(b)) != "/etc/callvault/callvault.toml" {
		t.Errorf("conffiles: %q", b)
	}
	for _, s := range []string{"postinst", "prerm", "postrm"} {
		run("sh", "-n", filepath.Join(ctrl, s))
	}
	if b, _ := os.ReadFile(filepath.Join(ctrl, "postinst")); !strings.Contains(string(b), "install -d -m 0700 -o callvault -g callvault /etc/callvault/key\n") {
		t.Error("postinst does not make the key directory /etc/callvault/key (callvault, 0700)")
	}
	if info := run("dpkg-deb", "-f", deb, "Package", "Version", "Architecture"); !strings.Contains(info, "Version: 9.8.7") || !strings.Contains(info, "Architecture: amd64") {
		t.Errorf("control fields: %s", info)
	}

	// The unit: hardened, and systemd-analyze verify finds nothing to say.
	root := filepath.Join(dir, "root")
	run("dpkg-deb", "-x", deb, root)
	unit, err := os.ReadFile(filepath.Join(root, "usr/lib/systemd/system/callvault.service"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Type=notify", "User=callvault", "StateDirectory=callvault", "ConfigurationDirectory=callvault",
		"ProtectSystem=strict", "\nReadWritePaths=-/etc/callvault/key\n", "NoNewPrivileges=yes", "PrivateTmp=yes", "\nCapabilityBoundingSet=\n", "ExecReload=/bin/kill -HUP $MAINPID"} {
		if !strings.Contains(string(unit), want) {
			t.Errorf("unit lacks %q", strings.TrimSpace(want))
		}
	}
	// verify checks that ExecStart exists: point it at the extracted binary.
	uv := filepath.Join(dir, "verify")
	if err := os.MkdirAll(uv, 0o755); err != nil {
		t.Fatal(err)
	}
	local := strings.ReplaceAll(string(unit), "/usr/bin/callvault", filepath.Join(root, "usr/bin/callvault"))
	if err := os.WriteFile(filepath.Join(uv, "callvault.service"), []byte(local), 0o644); err != nil {
		t.Fatal(err)
	}
	if msg := run("systemd-analyze", "verify", filepath.Join(uv, "callvault.service")); strings.TrimSpace(msg) != "" {
		t.Errorf("systemd-analyze verify: %s", msg)
	}

	if os.Geteuid() != 0 {
		t.Skip("SKIPPING the dpkg -i part: not root")
	}
	if _, err := os.Stat("/etc/debian_version"); err != nil {
		t.Skip("SKIPPING the dpkg -i part: not Debian")
	}
	// The package goes into this machine's system: a second test run at
	// the same time (two `make test` side by side) waits for this one's
	// install, checks and purge to end.
	lock, err := os.OpenFile(filepath.Join(os.TempDir(), "callvault-deb-test.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lock.Close() }) // runs after the purge below
	if out, err := exec.Command("dpkg", "-s", "callvault").CombinedOutput(); err == nil {
		t.Skipf("SKIPPING the dpkg -i part: callvault is already installed on this machine:\n%s", out)
	}
	if _, err := os.Stat("/etc/callvault"); err == nil {
		t.Skip("SKIPPING the dpkg -i part: /etc/callvault exists on this machine")
	}
	t.Cleanup(func() {
		_ = exec.Command("dpkg", "--purge", "callvault").Run()
		os.RemoveAll("/etc/callvault")
		os.RemoveAll("/var/lib/callvault")
		_ = exec.Command("userdel", "callvault").Run()
	})
	msg := run("dpkg", "-i", deb)
	if !strings.Contains(msg, "/etc/callvault/admin-password") {
		t.Errorf("postinst did not say where the first password is:\n%s", msg)
	}
	if v := run("/usr/bin/callvault", "version"); !strings.Contains(v, "9.8.7") {
		t.Errorf("installed binary says %q", v)
	}
	if id := run("id", "-u", "callvault"); strings.TrimSpace(id) == "0" {
		t.Fatal("the service user is root")
	}
	checkKeyLayout(t)
	for path, mode := range map[string]os.FileMode{"/etc/callvault/callvault.key": 0o600, "/etc/callvault/callvault.toml": 0o640, "/var/lib/callvault": 0o700 | os.ModeDir} {
		fi, err := os.Stat(path)
		if err != nil || fi.Mode() != mode {
			t.Errorf("%s: %v %v, want mode %v", path, fi.Mode(), err, mode)
		}
	}
	run("/usr/bin/callvault", "config", "check", "/etc/callvault/callvault.toml")
	serveAndRotateKey(t)
	if fi, err := os.Stat("/var/lib/callvault/callvault.db"); err != nil {
		t.Fatalf("no archive in the state directory: %v", err)
	} else if _, err := os.Stat("/var/lib/callvault/callvault.key"); err == nil || fi == nil {
		t.Fatal("a key in the state directory")
	}

	// An upgrade from a version that kept the key file in /etc/callvault.
	key, err := os.ReadFile(debRealKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(debKeyLink); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(debRealKey, debKeyLink); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Dir(debRealKey)); err != nil {
		t.Fatal(err)
	}
	if msg := run("dpkg", "-i", deb); !strings.Contains(msg, "archive key moved to "+debRealKey) {
		t.Errorf("the upgrade's postinst did not say where the key went:\n%s", msg)
	}
	checkKeyLayout(t)
	if moved, err := os.ReadFile(debRealKey); err != nil || !bytes.Equal(moved, key) {
		t.Fatalf("the key changed on upgrade: %v", err)
	}
	serveAndRotateKey(t)
}

// The packaged key: the configured path and the file it links to.
const (
	debKeyLink = "/etc/callvault/callvault.key"
	debRealKey = "/etc/callvault/key/callvault.key"
)

// checkKeyLayout checks the installed key: in /etc/callvault/key, which
// the daemon's user owns (0700), linked from /etc/callvault/callvault.key;
// /etc/callvault and the configuration stay root's.
func checkKeyLayout(t *testing.T) {
	t.Helper()
	u, err := user.Lookup("callvault")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path string
		mode os.FileMode
		uid  string
	}{
		{"/etc/callvault", 0o750 | os.ModeDir, "0"},
		{"/etc/callvault/callvault.toml", 0o640, "0"},
		{filepath.Dir(debRealKey), 0o700 | os.ModeDir, u.Uid},
		{debRealKey, 0o600, u.Uid},
	} {
		fi, err := os.Lstat(c.path)
		if err != nil {
			t.Errorf("%s: %v", c.path, err)
			continue
		}
		if uid := strconv.Itoa(int(fi.Sys().(*syscall.Stat_t).Uid)); fi.Mode() != c.mode || uid != c.uid {
			t.Errorf("%s: mode %v owner %s, want %v %s", c.path, fi.Mode(), uid, c.mode, c.uid)
		}
	}
	if target, err := os.Readlink(debKeyLink); err != nil || target != "key/callvault.key" {
		t.Errorf("%s: link to %q (%v), want key/callvault.key", debKeyLink, target, err)
	}
}

// serveAndRotateKey runs the installed daemon as its user on the packaged
// config, rotates the key through the API (the old key is kept beside the
// new one; nothing new in /etc/callvault), and starts the daemon again on
// the new key.
func serveAndRotateKey(t *testing.T) {
	t.Helper()
	pw, err := os.ReadFile("/etc/callvault/admin-password")
	if err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(debKeyLink)
	if err != nil {
		t.Fatal(err)
	}
	etc := dirNames(t, "/etc/callvault")
	url, c, stop := serveInstalled(t)
	body := strings.NewReader(`{"mode":"keyfile","currentPassword":"` + strings.TrimSpace(string(pw)) + `"}`)
	req, err := http.NewRequest("POST", url+"/api/v1/settings/key", body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth("admin", strings.TrimSpace(string(pw)))
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	stop()
	if resp.StatusCode != 200 {
		t.Fatalf("key rotation by the installed daemon: %s %s", resp.Status, msg)
	}
	after, err := os.ReadFile(debKeyLink)
	if err != nil || bytes.Equal(after, before) {
		t.Fatalf("key file not rotated: %v", err)
	}
	checkKeyLayout(t)
	if now := dirNames(t, "/etc/callvault"); !slices.Equal(now, etc) {
		t.Errorf("/etc/callvault changed by the rotation: %s, was %s", now, etc)
	}
	var kept bool
	for _, n := range dirNames(t, filepath.Dir(debRealKey)) {
		if old, ok := strings.CutPrefix(n, "callvault.key.old-"); ok {
			b, _ := os.ReadFile(filepath.Join(filepath.Dir(debRealKey), n))
			kept = kept || (bytes.Equal(b, before) && old != "")
		} else if n != "callvault.key" {
			t.Errorf("%s in the key directory", n)
		}
	}
	if !kept {
		t.Error("the old key was not kept in the key directory")
	}
	_, _, stop = serveInstalled(t) // opens with the new key
	stop()
}

// serveInstalled starts the installed daemon as its user on the packaged
// config and waits until it is healthy over HTTPS.
func serveInstalled(t *testing.T) (url string, c *http.Client, stop func()) {
	t.Helper()
	// The installed daemon, as its user, on the packaged config.
	port := freePort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	var logs bytes.Buffer
	u, err := user.Lookup("callvault")
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	d := exec.CommandContext(ctx, "/usr/bin/callvault", "serve",
		"--config", "/etc/callvault/callvault.toml", "--listen", "127.0.0.1:"+port)
	d.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	d.Stdout, d.Stderr = &logs, &logs
	d.Env = []string{"PATH=/usr/bin:/bin"}
	d.WaitDelay = 5 * time.Second
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	stop = func() { cancel(); _ = d.Process.Kill(); _ = d.Wait() }
	var resp *http.Response
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		pem, err := os.ReadFile("/var/lib/callvault/tls/cert.pem")
		if err == nil {
			pool := x509.NewCertPool()
			pool.AppendCertsFromPEM(pem)
			c = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
			if resp, err = c.Get("https://127.0.0.1:" + port + "/healthz"); err == nil {
				break
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if resp == nil || resp.StatusCode != 200 {
		stop()
		t.Fatalf("installed daemon not healthy over HTTPS: %v\n%s", resp, logs.String())
	}
	resp.Body.Close()
	return "https://127.0.0.1:" + port, c, stop
}
