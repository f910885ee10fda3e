package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"
)

// certSource serves the listeners' certificate and reloads it from its
// files on SIGHUP, so a renewed certificate needs no restart.
type certSource struct {
	certFile, keyFile string
	cur               atomic.Pointer[tls.Certificate]
}

// newCertSource loads the configured certificate, or generates a
// self-signed one into the TLS directory on first start and reuses it after.
func newCertSource(cfg *Config, log *slog.Logger) (*certSource, error) {
	s := &certSource{certFile: cfg.TLS.CertFile, keyFile: cfg.TLS.KeyFile}
	if s.certFile == "" {
		dir := cfg.tlsDir()
		s.certFile, s.keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
		if _, err := os.Stat(s.certFile); errors.Is(err, os.ErrNotExist) {
			if err := generateCert(s.certFile, s.keyFile, certHosts(cfg)); err != nil {
				return nil, fmt.Errorf("tls: generate certificate: %w", err)
			}
			log.Info("generated a self-signed TLS certificate; configure tls.cert_file for a trusted one", "cert", s.certFile)
		}
	}
	if err := s.reload(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *certSource) reload() error {
	c, err := loadKeyPair(s.certFile, s.keyFile)
	if err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	s.cur.Store(c)
	return nil
}

func (s *certSource) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return s.cur.Load(), nil
}

func (s *certSource) tlsConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: s.getCertificate, NextProtos: []string{"h2", "http/1.1"}}
}

func loadKeyPair(certFile, keyFile string) (*tls.Certificate, error) {
	c, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("certificate %s / key %s: %w", certFile, keyFile, err)
	}
	if c.Leaf != nil && time.Now().After(c.Leaf.NotAfter) {
		return nil, fmt.Errorf("certificate %s expired on %s", certFile, c.Leaf.NotAfter.Format(time.DateOnly))
	}
	return &c, nil
}

// certHosts are the names and addresses a generated certificate covers:
// localhost, this machine's name, the listeners' addresses and tls.hosts.
func certHosts(cfg *Config) []string {
	hosts := []string{"localhost", "127.0.0.1", "::1"}
	if h, err := os.Hostname(); err == nil && h != "" {
		hosts = append(hosts, h)
	}
	addrs := []string{cfg.Server.Listen}
	for _, l := range cfg.Listeners {
		addrs = append(addrs, l.Listen)
	}
	for _, a := range addrs {
		if h, _, err := net.SplitHostPort(a); err == nil && h != "" {
			if ip := net.ParseIP(h); ip == nil || !ip.IsUnspecified() {
				hosts = append(hosts, h)
			}
		}
	}
	return append(hosts, cfg.TLS.Hosts...)
}

// generateCert writes a self-signed ECDSA P-256 certificate valid for ten
// years (key 0600, certificate 0644).
func generateCert(certFile, keyFile string, hosts []string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: hosts[0], Organization: []string{"callvault appliance"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	seen := map[string]bool{}
	for _, h := range hosts {
		if seen[h] {
			continue
		}
		seen[h] = true
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(certFile), 0o700); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(keyFile), 0o700); err != nil {
		return err
	}
	if err := writeFileSync(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		return err
	}
	return writeFileSync(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

// writeFileSync writes a file through a temporary name, synced, then
// renamed into place.
func writeFileSync(path string, b []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
