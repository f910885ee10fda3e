package main

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Real WebDAV clients from Debian against the daemon on 127.0.0.1: litmus,
// rclone, cadaver and curl (apt-get install litmus rclone cadaver curl).
// A missing client skips its test loudly, except under CI=true, where it
// fails: CI must install them.

func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed; CI must install it (apt-get install -y %s)", name, name)
		}
		t.Skipf("SKIPPING: %s is not installed (apt-get install -y %s)", name, name)
	}
	return p
}

// runTool runs a client with a deadline and returns its combined output.
func runTool(t *testing.T, dir string, env []string, stdin string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("%s %v: timed out\n%s", name, args, out)
	}
	return string(out), err
}

// TestWebDAVRealClients runs the real clients against one daemon.
func TestWebDAVRealClients(t *testing.T) {
	d := startDAVDaemon(t)
	t.Run("litmus", func(t *testing.T) { testLitmus(t, d) })
	t.Run("rclone", func(t *testing.T) { testRclone(t, d) })
	t.Run("cadaver", func(t *testing.T) { testCadaver(t, d) })
	t.Run("curl", func(t *testing.T) { testCurl(t, d) })
}

// litmusExpectedFailures are the litmus tests (suite/test) that cannot
// pass on a read-only server, each with the reason. Any other failure
// fails the test; so does an expected failure that passes (the list is
// then out of date).
var litmusExpectedFailures = map[string]string{
	"basic/put_get":              "PUT is refused with 403: the archive is read-only",
	"basic/put_get_utf8_segment": "PUT is refused with 403: the archive is read-only",
	"basic/delete_fragment":      "its setup MKCOLs a collection, which a read-only archive refuses",
	"basic/mkcol":                "MKCOL is refused with 403: the archive is read-only",
	"props/propinit":             "its PUT of the resource the props tests work on is refused with 403 (litmus then skips the PROPPATCH tests that need it)",
	"props/propmanyns":           "PROPPATCH of the resource the refused PUT would have created: 404",
}

// litmusToken finds, in order, the suite headers, the test names and the
// results in litmus's output (a result may be on a later line than its
// test's name when warnings come between).
var litmusToken = regexp.MustCompile("running `(\\w+)'|(\\d+)\\. (\\w+)\\.+|\\b(pass|FAIL|SKIPPED)\\b")

// testLitmus runs litmus's basic and props suites. litmus works in a
// scratch collection it creates with MKCOL (its "begin" test) and deletes
// at the end; a read-only server refuses that, and litmus then stops. A
// small proxy in front of the daemon therefore answers that one MKCOL and
// the final DELETE, and maps the scratch collection onto a real day of
// the tree (hrefs mapped back). Every other request reaches the daemon
// unchanged, so litmus's tests run against the real read-only tree.
func testLitmus(t *testing.T, d *davDaemon) {
	litmus := needTool(t, "litmus")
	realDir := d.originals[0].path[:strings.LastIndex(d.originals[0].path, "/")+1] // /webdav/YYYY/MM/DD/
	target, _ := url.Parse(d.url)
	const scratch = "/webdav/litmus/"
	var mkcols atomic.Int32
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			mapIn := func(p string) string {
				if strings.HasPrefix(p, scratch) {
					return realDir + p[len(scratch):]
				}
				return p
			}
			u := pr.Out.URL
			u.Path, u.RawPath = mapIn(pr.In.URL.Path), ""
			if dst := pr.In.Header.Get("Destination"); dst != "" {
				if du, err := url.Parse(dst); err == nil {
					du.Path, du.RawPath = mapIn(du.Path), ""
					du.Host = target.Host
					pr.Out.Header.Set("Destination", du.String())
				}
			}
			pr.Out.Host = target.Host
		},
		ModifyResponse: func(resp *http.Response) error {
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				return err
			}
			b = bytes.ReplaceAll(b, []byte(realDir), []byte(scratch))
			resp.Body = io.NopCloser(bytes.NewReader(b))
			resp.ContentLength = int64(len(b))
			resp.Header.Set("Content-Length", strconv.Itoa(len(b)))
			return nil
		},
	}
	shim := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == scratch || r.URL.Path == strings.TrimSuffix(scratch, "/") {
			switch r.Method {
			case "MKCOL":
				mkcols.Add(1)
				w.WriteHeader(http.StatusCreated)
				return
			case http.MethodDelete:
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		rp.ServeHTTP(w, r)
	}))
	defer shim.Close()

	dir := t.TempDir()
	out, _ := runTool(t, dir, []string{"TESTS=basic props"}, "", litmus, "-k", shim.URL+"/webdav/", "admin", testAdminPassword)
	t.Logf("litmus output:\n%s", out)
	if mkcols.Load() == 0 {
		t.Fatal("litmus never created its scratch collection")
	}
	suite, test := "", ""
	results := map[string]string{}
	for _, m := range litmusToken.FindAllStringSubmatch(out, -1) {
		switch {
		case m[1] != "":
			suite, test = m[1], ""
		case m[3] != "":
			test = suite + "/" + m[3]
		case test != "":
			results[test] = m[4] // a repeated name (props' propget) keeps its last result
			test = ""
		}
	}
	var passed []string
	for name, res := range results {
		reason, expected := litmusExpectedFailures[name]
		switch {
		case res == "FAIL" && !expected:
			t.Errorf("litmus %s failed unexpectedly", name)
		case res == "FAIL":
			t.Logf("litmus %s failed as expected: %s", name, reason)
		case res == "pass" && expected:
			t.Errorf("litmus %s passed but is listed as an expected failure (%s): update the list", name, reason)
		case res == "pass":
			passed = append(passed, name)
		}
	}
	slices.Sort(passed)
	t.Logf("litmus tests passed: %v", passed)
	for _, must := range []string{"basic/init", "basic/options", "basic/put_no_parent", "basic/delete_null",
		"basic/mkcol_no_parent", "basic/mkcol_with_body", "props/propfind_invalid", "props/propfind_invalid2",
		"props/propfind_d0", "props/propextended", "props/propwformed"} {
		if results[must] != "pass" {
			t.Errorf("litmus %s: %q, want pass", must, results[must])
		}
	}
	for name := range litmusExpectedFailures {
		if results[name] == "" {
			t.Errorf("litmus %s (an expected failure) did not run", name)
		}
	}
	if len(results) < 30 {
		t.Errorf("litmus ran %d tests; its output was not understood", len(results))
	}
}

// rcloneEnv configures an rclone remote "cv" for login without a config
// file.
func rcloneEnv(t *testing.T, d *davDaemon, login, password string) []string {
	t.Helper()
	out, err := runTool(t, "", nil, "", "rclone", "obscure", password)
	if err != nil {
		t.Fatalf("rclone obscure: %v %s", err, out)
	}
	cache := t.TempDir()
	return []string{
		"RCLONE_CONFIG_CV_TYPE=webdav", "RCLONE_CONFIG_CV_URL=" + d.url + "/webdav/", "RCLONE_CONFIG_CV_VENDOR=other",
		"RCLONE_CONFIG_CV_USER=" + login, "RCLONE_CONFIG_CV_PASS=" + strings.TrimSpace(out),
		"RCLONE_CACHE_DIR=" + cache, "HOME=" + cache,
	}
}

// testRclone: lsf, copy and check of a user's whole view against the
// originals.
func testRclone(t *testing.T, d *davDaemon) {
	needTool(t, "rclone")
	for _, u := range []struct{ login, pw string }{{"alice", alicePassword}, {"bob", bobDAV}, {"admin", testAdminPassword}} {
		t.Run(u.login, func(t *testing.T) {
			env := rcloneEnv(t, d, u.login, u.pw)
			// The originals this user may see, laid out as the tree shows them.
			want := t.TempDir()
			var names []string
			for _, o := range d.originals {
				if u.login != "admin" && o.user != u.login {
					continue
				}
				user := o.user
				if user == "" {
					user = "_unassigned"
				}
				for _, p := range []string{o.path, "/webdav/users/" + user + strings.TrimPrefix(o.path, "/webdav")} {
					rel := strings.TrimPrefix(p, "/webdav/")
					names = append(names, rel)
					if err := os.MkdirAll(filepath.Join(want, filepath.Dir(rel)), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(filepath.Join(want, rel), o.data, 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
			slices.Sort(names)

			out, err := runTool(t, "", env, "", "rclone", "--config", "/dev/null", "lsf", "-R", "--files-only", "cv:")
			if err != nil {
				t.Fatalf("rclone lsf: %v\n%s", err, out)
			}
			got := strings.Split(strings.TrimSpace(out), "\n")
			slices.Sort(got)
			if !slices.Equal(got, names) {
				t.Errorf("rclone lsf: %q, want %q", got, names)
			}

			copied := t.TempDir()
			if out, err := runTool(t, "", env, "", "rclone", "--config", "/dev/null", "copy", "cv:", copied); err != nil {
				t.Fatalf("rclone copy: %v\n%s", err, out)
			}
			for _, rel := range names {
				b, err := os.ReadFile(filepath.Join(copied, rel))
				w, _ := os.ReadFile(filepath.Join(want, rel))
				if err != nil || !bytes.Equal(b, w) {
					t.Errorf("rclone copy %s: %v, %d bytes, want %d", rel, err, len(b), len(w))
				}
			}
			// rclone's own comparison, byte for byte, both directions.
			if out, err := runTool(t, "", env, "", "rclone", "--config", "/dev/null", "check", "--download", "cv:", want); err != nil {
				t.Errorf("rclone check: %v\n%s", err, out)
			}
		})
	}
	// rclone check notices a difference (so the check above can fail).
	env := rcloneEnv(t, d, "alice", alicePassword)
	bad := t.TempDir()
	o := d.originals[0]
	rel := strings.TrimPrefix(o.path, "/webdav/")
	os.MkdirAll(filepath.Join(bad, filepath.Dir(rel)), 0o755)
	altered := bytes.Clone(o.data)
	altered[len(altered)/2] ^= 1
	os.WriteFile(filepath.Join(bad, rel), altered, 0o644)
	if out, err := runTool(t, "", env, "", "rclone", "--config", "/dev/null", "check", "--download", "--one-way", "cv:"+filepath.Dir(rel), filepath.Join(bad, filepath.Dir(rel))); err == nil {
		t.Errorf("rclone check did not notice an altered byte:\n%s", out)
	}
}

// testCadaver: ls and get, driven by a script on stdin with the
// credentials in ~/.netrc.
func testCadaver(t *testing.T, d *davDaemon) {
	cadaver := needTool(t, "cadaver")
	home := t.TempDir()
	u, _ := url.Parse(d.url)
	netrc := fmt.Sprintf("machine %s\nlogin alice\npassword %s\n", u.Hostname(), alicePassword)
	if err := os.WriteFile(filepath.Join(home, ".netrc"), []byte(netrc), 0o600); err != nil {
		t.Fatal(err)
	}
	var mine []*davOriginal
	for _, o := range d.originals {
		if o.user == "alice" {
			mine = append(mine, o)
		}
	}
	dayDir := mine[0].path[:strings.LastIndex(mine[0].path, "/")+1]
	var script strings.Builder
	fmt.Fprintf(&script, "ls\ncd %s\nls\nlcd %s\n", dayDir, home)
	for _, o := range mine {
		fmt.Fprintf(&script, "get %s\n", o.name)
	}
	fmt.Fprintf(&script, "cd /webdav/users/\nls\nquit\n")
	out, err := runTool(t, home, []string{"HOME=" + home}, script.String(), cadaver, d.url+"/webdav/")
	t.Logf("cadaver:\n%s", out)
	if err != nil {
		t.Fatalf("cadaver: %v", err)
	}
	for _, o := range mine {
		if !strings.Contains(out, o.name) {
			t.Errorf("cadaver ls does not show %s", o.name)
		}
		b, err := os.ReadFile(filepath.Join(home, o.name))
		if err != nil || !bytes.Equal(b, o.data) {
			t.Errorf("cadaver get %s: %v, %d bytes, want %d", o.name, err, len(b), len(o.data))
		}
	}
	for _, o := range d.originals {
		if o.user != "alice" && strings.Contains(out, o.name) {
			t.Errorf("cadaver shows alice %s", o.name)
		}
	}
	if strings.Contains(out, "bob") || strings.Contains(out, "_unassigned") {
		t.Errorf("cadaver: alice's users/ shows others")
	}
}

// testCurl: PROPFIND Depth 1 and ranged GETs.
func testCurl(t *testing.T, d *davDaemon) {
	curl := needTool(t, "curl")
	o := d.originals[2]
	dayDir := o.path[:strings.LastIndex(o.path, "/")+1]
	cred := "admin:" + testAdminPassword
	out, err := runTool(t, "", nil, "", curl, "-sS", "--fail", "-g", "-u", cred, "-X", "PROPFIND", "-H", "Depth: 1",
		"-H", "Content-Type: application/xml", "--data", `<?xml version="1.0"?><propfind xmlns="DAV:"><allprop/></propfind>`,
		d.url+escape(dayDir))
	if err != nil {
		t.Fatalf("curl PROPFIND: %v\n%s", err, out)
	}
	var ms struct {
		Responses []struct {
			Href   string `xml:"href"`
			Length string `xml:"propstat>prop>getcontentlength"`
			ETag   string `xml:"propstat>prop>getetag"`
		} `xml:"response"`
	}
	if err := xml.Unmarshal([]byte(out), &ms); err != nil {
		t.Fatalf("curl PROPFIND: %v\n%s", err, out)
	}
	found := false
	for _, r := range ms.Responses {
		if r.Href == escape(o.path) {
			found = true
			if r.Length != strconv.Itoa(len(o.data)) || len(r.ETag) != 66 {
				t.Errorf("PROPFIND %s: length %s etag %s", o.path, r.Length, r.ETag)
			}
		}
	}
	if !found {
		t.Errorf("curl PROPFIND of %s does not list %s:\n%s", dayDir, o.path, out)
	}
	dir := t.TempDir()
	for _, r := range [][2]int{{0, 99}, {65500, 70000}, {len(o.data) - 1000, len(o.data) - 1}} {
		f := filepath.Join(dir, "part")
		out, err := runTool(t, "", nil, "", curl, "-sS", "--fail", "-g", "-u", cred, "-r", fmt.Sprintf("%d-%d", r[0], r[1]),
			"-o", f, "-w", "%{http_code}", d.url+escape(o.path))
		if err != nil || strings.TrimSpace(out) != "206" {
			t.Fatalf("curl range %v: %v %s", r, err, out)
		}
		b, _ := os.ReadFile(f)
		if !bytes.Equal(b, o.data[r[0]:r[1]+1]) {
			t.Errorf("curl range %v: %d bytes differ from the original", r, len(b))
		}
	}
	// The whole file, and HEAD.
	f := filepath.Join(dir, "whole")
	if out, err := runTool(t, "", nil, "", curl, "-sS", "--fail", "-g", "-u", cred, "-o", f, d.url+escape(o.path)); err != nil {
		t.Fatalf("curl GET: %v %s", err, out)
	}
	if b, _ := os.ReadFile(f); !bytes.Equal(b, o.data) {
		t.Error("curl GET differs from the original")
	}
	out, err = runTool(t, "", nil, "", curl, "-sS", "--fail", "-g", "-I", "-u", cred, d.url+escape(o.path))
	if err != nil || !strings.Contains(strings.ToLower(out), "content-length: "+strconv.Itoa(len(o.data))) {
		t.Errorf("curl HEAD: %v\n%s", err, out)
	}
}
