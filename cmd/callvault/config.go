package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/mail"
)

// installedConfig is where the packaged appliance keeps its configuration;
// serve reads it when --config is not given and the file exists.
const installedConfig = "/etc/callvault/callvault.toml"

// installedBinary is where the package puts the program.
const installedBinary = "/usr/bin/callvault"

// defaultConfigFile is the configuration file used without --config: the
// installed one, but only for the installed program, so that a build run
// from a work tree (make run, tests) keeps its embedded defaults on a
// machine where the package is installed too.
func defaultConfigFile() string {
	exe, err := os.Executable()
	if err != nil || exe != installedBinary {
		return ""
	}
	if _, err := os.Stat(installedConfig); err != nil {
		return ""
	}
	return installedConfig
}

// Config is the appliance's configuration file. Every key is optional; the
// zero file runs on embedded defaults. packaging/callvault.toml documents
// every key with its default (a test keeps the two in step).
type Config struct {
	Server    ServerConfig     `toml:"server"`
	TLS       TLSConfig        `toml:"tls"`
	Listeners []ListenerConfig `toml:"listeners"`
	Archive   ArchiveConfig    `toml:"archive"`
	Storage   StorageConfig    `toml:"storage"`
	Ingest    IngestConfig     `toml:"ingest"`
	Health    HealthConfig     `toml:"health"`
	Log       LogConfig        `toml:"log"`
	Setup     SetupConfig      `toml:"setup"`
	Mail      mail.Config      `toml:"mail"`
	Share     ShareConfig      `toml:"share"`
	Legs      LegsConfig       `toml:"legs"`
	Flex      FlexConfig       `toml:"flex"`
	Webhooks  WebhooksConfig   `toml:"webhooks"`
}

// ServerConfig is the main listener and the HTTP timeouts of all.
type ServerConfig struct {
	Listen            string   `toml:"listen"`
	TLS               bool     `toml:"tls"`
	Zones             []string `toml:"zones"`
	ReadHeaderTimeout Duration `toml:"read_header_timeout"`
	IdleTimeout       Duration `toml:"idle_timeout"`
	ShutdownTimeout   Duration `toml:"shutdown_timeout"`
}

// ListenerConfig is one more listener serving some trust zones.
type ListenerConfig struct {
	Name   string   `toml:"name"`
	Listen string   `toml:"listen"`
	TLS    bool     `toml:"tls"`
	Zones  []string `toml:"zones"`
}

// TLSConfig names the certificate; empty files mean one generated on first
// start in Dir.
type TLSConfig struct {
	CertFile string   `toml:"cert_file"`
	KeyFile  string   `toml:"key_file"`
	Dir      string   `toml:"dir"`
	Hosts    []string `toml:"hosts"`
}

type ArchiveConfig struct {
	Data           string `toml:"data"`
	KeyFile        string `toml:"key_file"`
	PassphraseFile string `toml:"passphrase_file"`
}

type IngestConfig struct {
	Prefix      string   `toml:"prefix"`
	IdleTimeout Duration `toml:"idle_timeout"`
	NamePattern string   `toml:"name_pattern"`
	// MaxUploadMB bounds what one upload stores (MiB): the body, or what
	// a gzip body decompresses to.
	MaxUploadMB int64 `toml:"max_upload_mb"`
}

// defaultMaxUploadMB is sized for a 24-hour call: two directions of G.711
// at 50 packets/s each (100/s), each packet 160 bytes of audio plus 54 of
// Ethernet, IP, UDP and RTP headers plus a 16-byte pcap record header, is
// 24·3600·100·(160+54+16) ≈ 1.99e9 bytes (1895 MiB). Twice that leaves
// room for pcapng's larger records, VLAN tags, RTCP and the SIP exchange.
const defaultMaxUploadMB = 4096

type HealthConfig struct {
	MinFreeMB int64 `toml:"min_free_mb"`
}

type LogConfig struct {
	Level  string          `toml:"level"`
	Format string          `toml:"format"`
	Levels SubsystemLevels `toml:"levels"`
}

// SubsystemLevels are per-subsystem log levels; empty means log.level.
type SubsystemLevels struct {
	Recording       string `toml:"recording"`
	CallInformation string `toml:"call_information"`
	Conversion      string `toml:"conversion"`
	License         string `toml:"license"`
	GUI             string `toml:"gui"`
	Connections     string `toml:"connections"`
}

func (s *SubsystemLevels) get(name string) string {
	switch name {
	case subsysRecording:
		return s.Recording
	case subsysCallInfo:
		return s.CallInformation
	case subsysConversion:
		return s.Conversion
	case subsysLicense:
		return s.License
	case subsysGUI:
		return s.GUI
	case subsysConnections:
		return s.Connections
	}
	return ""
}

// SetupConfig holds the first start's passwords (files or environment).
type SetupConfig struct {
	AdminPasswordFile  string `toml:"admin_password_file"`
	IngestPasswordFile string `toml:"ingest_password_file"`
}

// Trust zones: each is a set of routes with its own kind of credentials.
const (
	zoneUI       = "ui"       // web UI and JSON API (user sessions, Basic), backup
	zoneIngest   = "ingest"   // device PUTs (device credentials)
	zoneWebDAV   = "webdav"   // read-only WebDAV (credentials)
	zonePlayback = "playback" // external playback page (link + one-time code)
	zoneOps      = "ops"      // /metrics, /healthz, /readyz (no credentials)
)

var allZones = []string{zoneUI, zoneIngest, zoneWebDAV, zonePlayback, zoneOps}

// Duration is a time.Duration written as "90s" in the file.
type Duration struct{ time.Duration }

func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("bad duration %q (use e.g. 90s, 2m)", b)
	}
	if v < 0 {
		return fmt.Errorf("duration %q must not be negative", b)
	}
	d.Duration = v
	return nil
}

func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

func defaultConfig() Config {
	return Config{
		Server: ServerConfig{Listen: "localhost:8080", Zones: slices.Clone(allZones),
			ReadHeaderTimeout: Duration{10 * time.Second}, IdleTimeout: Duration{2 * time.Minute},
			ShutdownTimeout: Duration{20 * time.Second}},
		Archive:  ArchiveConfig{Data: "data"},
		Storage:  StorageConfig{Backend: backendBolt},
		Ingest:   IngestConfig{Prefix: "/recordings/Files/", IdleTimeout: Duration{2 * time.Minute}, MaxUploadMB: defaultMaxUploadMB},
		Health:   HealthConfig{MinFreeMB: 512},
		Log:      LogConfig{Level: "info", Format: "text"},
		Legs:     defaultLegsConfig(),
		Flex:     defaultFlexConfig(),
		Webhooks: WebhooksConfig{Timeout: Duration{30 * time.Second}},
	}
}

// configError is a bad value: key names it as written in the file
// ("server.listen", "listeners[2].zones").
type configError struct {
	key string
	msg string
}

func (e *configError) Error() string { return e.key + ": " + e.msg }

func badValue(key, format string, args ...any) error {
	return &configError{key: key, msg: fmt.Sprintf(format, args...)}
}

// loadConfig reads path over the defaults, applies the overrides (flags)
// and validates. Unknown keys, bad types and bad values are errors naming
// the file and line. An empty path means the embedded defaults.
func loadConfig(path string, overrides ...func(*Config)) (Config, error) {
	cfg := defaultConfig()
	var text []byte
	if path != "" {
		var err error
		if text, err = os.ReadFile(path); err != nil {
			return cfg, fmt.Errorf("config: %w", err)
		}
		// Arrays in the file replace the defaults rather than merge.
		cfg.Server.Zones = nil
		dec := toml.NewDecoder(bytes.NewReader(text)).DisallowUnknownFields()
		if err := dec.Decode(&cfg); err != nil {
			var de *toml.DecodeError
			var sm *toml.StrictMissingError
			switch {
			case errors.As(err, &sm) && len(sm.Errors) > 0:
				row, _ := sm.Errors[0].Position()
				return cfg, fmt.Errorf("%s:%d: unknown key %s", path, row, strings.Join(sm.Errors[0].Key(), "."))
			case errors.As(err, &de):
				row, _ := de.Position()
				return cfg, fmt.Errorf("%s:%d: %s", path, row, de.Error())
			}
			return cfg, fmt.Errorf("%s: %w", path, err)
		}
		if cfg.Server.Zones == nil {
			cfg.Server.Zones = slices.Clone(allZones)
		}
	}
	for _, o := range overrides {
		o(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		var ce *configError
		if path != "" && errors.As(err, &ce) {
			if line := keyLines(text)[ce.key]; line > 0 {
				return cfg, fmt.Errorf("%s:%d: %s", path, line, ce)
			}
			return cfg, fmt.Errorf("%s: %s", path, ce)
		}
		return cfg, fmt.Errorf("config: %w", err)
	}
	return cfg, nil
}

// keyLines maps every key of a TOML document to the line it is set on:
// "section.key", and "array[i].key" for the i-th (from 1) [[array]] table.
// Table headers map too ("section" → its line).
func keyLines(text []byte) map[string]int {
	out := map[string]int{}
	var p unstable.Parser
	p.Reset(text)
	var table string
	arrays := map[string]int{}
	lineOf := func(n *unstable.Node) int {
		r := p.Range(n.Data)
		if r.Length == 0 && len(n.Data) > 0 {
			return 0
		}
		return p.Shape(r).Start.Line
	}
	keyOf := func(n *unstable.Node) (string, int) {
		var parts []string
		line := 0
		it := n.Key()
		for it.Next() {
			k := it.Node()
			if line == 0 {
				line = lineOf(k)
			}
			parts = append(parts, string(k.Data))
		}
		return strings.Join(parts, "."), line
	}
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table:
			k, line := keyOf(e)
			table = k
			out[table] = line
		case unstable.ArrayTable:
			k, line := keyOf(e)
			arrays[k]++
			table = k + "[" + strconv.Itoa(arrays[k]) + "]"
			out[table] = line
		case unstable.KeyValue:
			k, line := keyOf(e)
			if table != "" {
				k = table + "." + k
			}
			out[k] = line
		}
	}
	return out
}

// Validate checks values the decoder cannot.
func (c *Config) Validate() error {
	if err := checkListen("server.listen", c.Server.Listen); err != nil {
		return err
	}
	if err := checkZones("server.zones", c.Server.Zones); err != nil {
		return err
	}
	if c.Server.ReadHeaderTimeout.Duration <= 0 {
		return badValue("server.read_header_timeout", "must be positive")
	}
	if c.Server.ShutdownTimeout.Duration <= 0 {
		return badValue("server.shutdown_timeout", "must be positive")
	}
	addrs := map[string]string{c.Server.Listen: "server.listen"}
	names := map[string]bool{}
	for i, l := range c.Listeners {
		key := fmt.Sprintf("listeners[%d]", i+1)
		if l.Name == "" {
			return badValue(key+".name", "is empty: name each listener (it labels logs and metrics)")
		}
		if names[l.Name] || l.Name == "main" {
			return badValue(key+".name", "%q is used twice (\"main\" is the [server] listener)", l.Name)
		}
		names[l.Name] = true
		if err := checkListen(key+".listen", l.Listen); err != nil {
			return err
		}
		if other, dup := addrs[l.Listen]; dup {
			return badValue(key+".listen", "%q is already the address of %s", l.Listen, other)
		}
		addrs[l.Listen] = key + ".listen"
		if len(l.Zones) == 0 {
			return badValue(key+".zones", "is empty: list the zones this listener serves (%s)", strings.Join(allZones, ", "))
		}
		if err := checkZones(key+".zones", l.Zones); err != nil {
			return err
		}
	}
	if !c.servesZone(zoneUI) {
		return badValue("server.zones", "no listener serves the %q zone (the UI and API)", zoneUI)
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		return badValue("tls.cert_file", "set both tls.cert_file and tls.key_file, or neither (a certificate is then generated)")
	}
	for i, h := range c.TLS.Hosts {
		if h == "" || strings.ContainsAny(h, " /") {
			return badValue("tls.hosts", "entry %d %q is not a host name or address", i+1, h)
		}
	}
	if c.Archive.Data == "" {
		return badValue("archive.data", "is empty")
	}
	if c.Archive.KeyFile != "" && c.Archive.PassphraseFile != "" {
		return badValue("archive.passphrase_file", "set archive.key_file or archive.passphrase_file, not both")
	}
	if c.Archive.KeyFile != "" && isInside(c.Archive.KeyFile, c.Archive.Data) {
		return badValue("archive.key_file", "%q is inside the data directory: keep the key apart from the data it protects", c.Archive.KeyFile)
	}
	if err := c.Storage.validate(); err != nil {
		return err
	}
	if !strings.HasPrefix(c.Ingest.Prefix, "/") || !strings.HasSuffix(c.Ingest.Prefix, "/") {
		return badValue("ingest.prefix", "%q must start and end with /", c.Ingest.Prefix)
	}
	if c.Ingest.NamePattern != "" {
		if _, err := regexp.Compile(c.Ingest.NamePattern); err != nil {
			return badValue("ingest.name_pattern", "%v", err)
		}
	}
	if c.Ingest.MaxUploadMB < 1 {
		return badValue("ingest.max_upload_mb", "must be at least 1 (MiB)")
	}
	if c.Health.MinFreeMB < 0 {
		return badValue("health.min_free_mb", "must not be negative")
	}
	if _, err := parseLevel(c.Log.Level); err != nil {
		return badValue("log.level", "%v", err)
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		return badValue("log.format", "%q: use text or json", c.Log.Format)
	}
	for _, s := range subsystems {
		if v := c.Log.Levels.get(s); v != "" {
			if _, err := parseLevel(v); err != nil {
				return badValue("log.levels."+s, "%v", err)
			}
		}
	}
	if err := c.validateMail(); err != nil {
		return err
	}
	if err := c.validateLegs(); err != nil {
		return err
	}
	if err := c.Webhooks.validate(); err != nil {
		return err
	}
	for key, v := range map[string]string{"share.public_url": c.Share.PublicURL, "share.ui_url": c.Share.UIURL} {
		if err := checkPublicURL(v); err != nil {
			return badValue(key, "%v", err)
		}
	}
	return c.Flex.validate()
}

// ShareConfig is where the links that secure-link mails carry point to.
type ShareConfig struct {
	// PublicURL is the playback zone's public URL; empty: the listener
	// serving the zone.
	PublicURL string `toml:"public_url"`
	// UIURL is the UI's public URL for internal links; empty: the
	// listener serving the UI.
	UIURL string `toml:"ui_url"`
}

// checkPublicURL accepts "" or an absolute http(s) URL without query or
// fragment.
func checkPublicURL(s string) error {
	if s == "" {
		return nil
	}
	if !showableURL(s) { // may hold a credential: never quoted
		return errors.New("the value (not shown: it may hold a credential) is not a URL without user or query")
	}
	u, _ := url.Parse(s)
	switch {
	case u.Scheme != "http" && u.Scheme != "https", u.Host == "":
		return fmt.Errorf("%q: give an absolute http or https URL, such as https://recordings.example.com", s)
	case u.Fragment != "":
		return fmt.Errorf("%q: no query, fragment or user in a public URL", s)
	}
	return nil
}

// validateMail checks the [mail] section; its errors name the key
// ("mail.security") so that loadConfig finds its line.
func (c *Config) validateMail() error {
	if err := c.Mail.Validate(); err != nil {
		var me *mail.ConfigError
		if errors.As(err, &me) {
			return badValue(me.Key, "%s", me.Msg)
		}
		return badValue("mail", "%v", err)
	}
	return nil
}

func checkListen(key, addr string) error {
	if addr == "" {
		return badValue(key, "is empty")
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return badValue(key, "%q is not host:port (e.g. 0.0.0.0:443, [::]:8080, localhost:8080)", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return badValue(key, "%q: port %q is not a number 0..65535", addr, port)
	}
	_ = host
	return nil
}

func checkZones(key string, zones []string) error {
	seen := map[string]bool{}
	for _, z := range zones {
		if !slices.Contains(allZones, z) {
			return badValue(key, "unknown zone %q (zones: %s)", z, strings.Join(allZones, ", "))
		}
		if seen[z] {
			return badValue(key, "zone %q listed twice", z)
		}
		seen[z] = true
	}
	return nil
}

func (c *Config) servesZone(z string) bool {
	if slices.Contains(c.Server.Zones, z) {
		return true
	}
	for _, l := range c.Listeners {
		if slices.Contains(l.Zones, z) {
			return true
		}
	}
	return false
}

// usesTLS reports whether any listener serves HTTPS.
func (c *Config) usesTLS() bool {
	if c.Server.TLS {
		return true
	}
	for _, l := range c.Listeners {
		if l.TLS {
			return true
		}
	}
	return false
}

func isInside(path, dir string) bool {
	p, err1 := filepath.Abs(path)
	d, err2 := filepath.Abs(dir)
	if err1 != nil || err2 != nil {
		return false
	}
	rel, err := filepath.Rel(d, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// keyFile is where the archive key lives: the configured path, or beside
// (never inside) the data directory.
func (c *Config) keyFile() string {
	if c.Archive.KeyFile != "" {
		return c.Archive.KeyFile
	}
	abs, err := filepath.Abs(c.Archive.Data)
	if err != nil {
		abs = c.Archive.Data
	}
	return filepath.Join(filepath.Dir(abs), "callvault.key")
}

func (c *Config) dbPath() string { return filepath.Join(c.Archive.Data, "callvault.db") }

// tlsDir is where a generated certificate is kept.
func (c *Config) tlsDir() string {
	if c.TLS.Dir != "" {
		return c.TLS.Dir
	}
	return filepath.Join(c.Archive.Data, "tls")
}

// passphrase comes from archive.passphrase_file or CALLVAULT_PASSPHRASE;
// nil means the key file.
func (c *Config) passphrase() ([]byte, error) {
	if c.Archive.PassphraseFile == "" {
		if p := os.Getenv("CALLVAULT_PASSPHRASE"); p != "" {
			return []byte(p), nil
		}
		return nil, nil
	}
	b, err := readSecret(c.Archive.PassphraseFile)
	if err != nil {
		return nil, fmt.Errorf("config: archive.passphrase_file: %w", err)
	}
	return b, nil
}

// readSecret reads a secret from a file, without its final line break.
func readSecret(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	b = bytes.TrimRight(b, "\r\n")
	if len(b) == 0 {
		return nil, fmt.Errorf("%s is empty", path)
	}
	return b, nil
}

// runConfig is `callvault config check FILE` and `callvault config keygen FILE`.
func runConfig(_ context.Context, args []string, stdout, stderr io.Writer) error {
	const use = "usage: callvault config check FILE | callvault config keygen FILE"
	if len(args) != 2 {
		fmt.Fprintln(stderr, use)
		return errors.New("config: need a subcommand and a file")
	}
	switch args[0] {
	case "check":
		cfg, err := loadConfig(args[1])
		if err != nil {
			return err
		}
		if err := cfg.checkFiles(); err != nil {
			return fmt.Errorf("%s: %w", args[1], err)
		}
		fmt.Fprintf(stdout, "%s: ok (%d listener(s); data %s; key %s; storage %s)\n", args[1], 1+len(cfg.Listeners), cfg.Archive.Data, cfg.keyDescription(), cfg.Storage)
		return nil
	case "keygen":
		return writeKeyFile(args[1], stdout)
	}
	fmt.Fprintln(stderr, use)
	return fmt.Errorf("config: unknown subcommand %q", args[0])
}

func (c *Config) keyDescription() string {
	if c.Archive.PassphraseFile != "" {
		return "passphrase from " + c.Archive.PassphraseFile
	}
	return c.keyFile()
}

// checkFiles checks what a config names and serve will read: secret files
// and a configured certificate.
func (c *Config) checkFiles() error {
	if p := c.Archive.PassphraseFile; p != "" {
		if _, err := readSecret(p); err != nil {
			return fmt.Errorf("archive.passphrase_file: %w", err)
		}
	}
	if p := c.Mail.PasswordFile; p != "" {
		if _, err := readSecret(p); err != nil {
			return fmt.Errorf("mail.password_file: %w", err)
		}
	}
	if p := c.Flex.AuthTokenFile; p != "" {
		if _, err := readSecret(p); err != nil {
			return fmt.Errorf("flex.auth_token_file: %w", err)
		}
	}
	if err := c.Storage.checkFiles(); err != nil {
		return err
	}
	if c.TLS.CertFile != "" {
		if _, err := loadKeyPair(c.TLS.CertFile, c.TLS.KeyFile); err != nil {
			return fmt.Errorf("tls: %w", err)
		}
	}
	return nil
}

// writeKeyFile creates a new archive key file through the archive, which
// owns the key format, refusing to replace one: the key is what makes the
// recordings readable.
func writeKeyFile(path string, stdout io.Writer) error {
	err := archive.CreateKeyFile(path)
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("config keygen: %s exists; not replacing an archive key", path)
	}
	if err != nil {
		return fmt.Errorf("config keygen: %w", err)
	}
	fmt.Fprintf(stdout, "wrote a new archive key to %s\n", path)
	return nil
}

// flagSetOutput keeps the flag package's usage on stderr.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// WebhooksConfig is where webhooks may send: https to public addresses
// unless allowed otherwise here.
type WebhooksConfig struct {
	// AllowHTTPHosts are endpoint hosts that may be plain http.
	AllowHTTPHosts []string `toml:"allow_http_hosts"`
	// AllowPrivate lets webhooks reach loopback, private and link-local
	// addresses.
	AllowPrivate bool `toml:"allow_private"`
	// Timeout bounds each delivery attempt.
	Timeout Duration `toml:"timeout"`
}

func (c *WebhooksConfig) validate() error {
	if c.Timeout.Duration < time.Second || c.Timeout.Duration > 5*time.Minute {
		return badValue("webhooks.timeout", "%v: between 1s and 5m", c.Timeout.Duration)
	}
	for _, h := range c.AllowHTTPHosts {
		if h == "" || strings.ContainsAny(h, "/@ ") {
			return badValue("webhooks.allow_http_hosts", "%q: a host name or address", h)
		}
	}
	return nil
}
