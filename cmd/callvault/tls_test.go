package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// startConfigured runs serve with a config text and returns the UI
// listener's address and a stop function.
func startConfigured(t *testing.T, conf string, out io.Writer) (string, func() error) {
	t.Helper()
	t.Setenv("CALLVAULT_ADMIN_PASSWORD", testAdminPassword)
	t.Setenv("CALLVAULT_INGEST_PASSWORD", testIngestPassword)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, serveOptions{config: writeConfig(t, conf), data: filepath.Join(dir, "data"),
			keyFile: filepath.Join(dir, "k"), ready: func(a string) { ready <- a }}, out, out)
	}()
	select {
	case addr := <-ready:
		var once sync.Once
		var err error
		stop := func() error {
			once.Do(func() { cancel(); err = <-done })
			return err
		}
		t.Cleanup(func() { _ = stop() })
		return addr, stop
	case err := <-done:
		cancel()
		t.Fatalf("serve: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("serve did not start")
	}
	return "", nil
}

func tlsClient(t *testing.T, certFile string) *http.Client {
	t.Helper()
	pem, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("no certificate in", certFile)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// TestTLSGeneratedCertificate: with server.tls and no certificate, one is
// generated on first start and the UI listener serves HTTPS with it; a
// second, plain-HTTP listener serves only the ingest zone.
func TestTLSGeneratedCertificate(t *testing.T) {
	tlsDir := filepath.Join(t.TempDir(), "tls")
	phones := "127.0.0.1:" + freePort(t)
	addr, stop := startConfigured(t, `
[server]
listen = "127.0.0.1:0"
tls = true
zones = ["ui", "ops"]

[tls]
dir = "`+tlsDir+`"

[[listeners]]
name = "phones"
listen = "`+phones+`"
zones = ["ingest"]
`, io.Discard)
	c := tlsClient(t, filepath.Join(tlsDir, "cert.pem"))
	resp, err := c.Get("https://" + addr + "/healthz")
	if err != nil {
		t.Fatalf("HTTPS with the generated certificate: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS == nil || !strings.Contains(string(b), "ok") {
		t.Fatalf("healthz over TLS: %s %q", resp.Status, b)
	}
	if fi, err := os.Stat(filepath.Join(tlsDir, "key.pem")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("generated key: %v %v", fi, err)
	}
	// Plain HTTP is not spoken on the TLS listener.
	if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
		if resp.StatusCode == 200 {
			t.Fatal("TLS listener answered plain HTTP")
		}
		resp.Body.Close()
	}
	// The phones' listener: ingest only.
	d := &daemon{url: "http://" + phones}
	capture := makeTestCapture(t)
	r, m := d.put(t, "0123456789abcdef0123456789abcdef-009033302ab1-11--alice.pcap", strings.NewReader(string(capture)), int64(len(capture)))
	if r.StatusCode != 201 {
		t.Fatalf("plain-HTTP ingest: %s %v", r.Status, m)
	}
	resp, _ = d.get(t, "/api/v1/recordings")
	if resp.StatusCode != 404 {
		t.Fatalf("the ingest listener serves the API: %s", resp.Status)
	}
	resp, _ = d.get(t, "/healthz")
	if resp.StatusCode != 404 {
		t.Fatalf("the ingest listener serves ops: %s", resp.Status)
	}
	// The recording is there on the UI listener.
	req, _ := http.NewRequest("GET", "https://"+addr+"/api/v1/recordings/"+m["id"].(string), nil)
	req.SetBasicAuth("admin", testAdminPassword)
	resp, err = c.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("recording over HTTPS: %v %v", resp, err)
	}
	resp.Body.Close()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// TestTLSReloadOnSIGHUP: a configured certificate replaced on disk is
// served after SIGHUP, without a restart.
func TestTLSReloadOnSIGHUP(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	if err := generateCert(cert, key, []string{"localhost", "127.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	addr, stop := startConfigured(t, `
[server]
listen = "127.0.0.1:0"
tls = true
[tls]
cert_file = "`+cert+`"
key_file = "`+key+`"
`, io.Discard)
	serial := func(c *http.Client) string {
		t.Helper()
		resp, err := c.Get("https://" + addr + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.TLS.PeerCertificates[0].SerialNumber.String()
	}
	first := serial(tlsClient(t, cert))
	if err := generateCert(cert, key, []string{"localhost", "127.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c := tlsClient(t, cert)
		c.Transport.(*http.Transport).DisableKeepAlives = true
		resp, err := c.Get("https://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if s := resp.TLS.PeerCertificates[0].SerialNumber.String(); s != first {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("certificate not reloaded after SIGHUP")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// TestLiveUploadOverTLS: calls streamed over HTTPS, each packet a TLS
// record of its own, are read as they come and answered soon after they
// end. Pacing a read per record (crypto/tls hands out one per read) kept
// such an upload a minute behind a call of three seconds.
func TestLiveUploadOverTLS(t *testing.T) {
	addr, stop := startConfigured(t, `
[server]
listen = "127.0.0.1:0"
tls = true

[tls]
dir = "`+filepath.Join(t.TempDir(), "tls")+`"
`, io.Discard)
	var stdout bytes.Buffer
	err := runLoadgen(t.Context(), []string{
		"--streams", "4", "--duration", "3s", "--ramp", "200ms",
		"--url", "https://" + addr + "/recordings/Files/", "--insecure",
		"--password", testIngestPassword, "--verify", "--api-user", "admin", "--api-password", testAdminPassword,
		"--response-timeout", "20s",
	}, &stdout, &stdout)
	if err != nil || !strings.Contains(stdout.String(), "started 2, ok 2, failed 0") || !strings.Contains(stdout.String(), "lost 0") {
		t.Fatalf("%v\n%s", err, stdout.String())
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}
