package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDebPackage builds the .deb with packaging/build-deb.sh, checks its
// contents, conffile, maintainer scripts and unit (systemd-analyze
// verify), and, as root on Debian, installs it with dpkg -i: the user
// exists, the key is created outside the state directory, and the
// installed binary serves HTTPS as that user with the packaged config.
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
		"ProtectSystem=strict", "NoNewPrivileges=yes", "PrivateTmp=yes", "\nCapabilityBoundingSet=\n", "ExecReload=/bin/kill -HUP $MAINPID"} {
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
	for path, mode := range map[string]os.FileMode{"/etc/callvault/callvault.key": 0o600, "/etc/callvault/callvault.toml": 0o640, "/var/lib/callvault": 0o700 | os.ModeDir} {
		fi, err := os.Stat(path)
		if err != nil || fi.Mode() != mode {
			t.Errorf("%s: %v %v, want mode %v", path, fi.Mode(), err, mode)
		}
	}
	run("/usr/bin/callvault", "config", "check", "/etc/callvault/callvault.toml")

	// The installed daemon, as its user, on the packaged config.
	port := freePort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
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
	defer func() { _ = d.Process.Kill(); _ = d.Wait() }()
	var resp *http.Response
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		pem, err := os.ReadFile("/var/lib/callvault/tls/cert.pem")
		if err == nil {
			pool := x509.NewCertPool()
			pool.AppendCertsFromPEM(pem)
			c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
			if resp, err = c.Get("https://127.0.0.1:" + port + "/healthz"); err == nil {
				break
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if resp == nil || resp.StatusCode != 200 {
		t.Fatalf("installed daemon not healthy over HTTPS: %v\n%s", resp, logs.String())
	}
	resp.Body.Close()
	if fi, err := os.Stat("/var/lib/callvault/callvault.db"); err != nil {
		t.Fatalf("no archive in the state directory: %v", err)
	} else if _, err := os.Stat("/var/lib/callvault/callvault.key"); err == nil || fi == nil {
		t.Fatal("a key in the state directory")
	}
}
