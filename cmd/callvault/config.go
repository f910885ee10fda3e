package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"
)

// Config is the appliance's configuration file. Every key is optional; the
// zero file runs on embedded defaults.
type Config struct {
	Server  ServerConfig  `toml:"server"`
	Archive ArchiveConfig `toml:"archive"`
	Ingest  IngestConfig  `toml:"ingest"`
	Log     LogConfig     `toml:"log"`
}

type ServerConfig struct {
	Listen string `toml:"listen"`
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
}

type LogConfig struct {
	Level  string `toml:"level"`
	Format string `toml:"format"`
}

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
		Server:  ServerConfig{Listen: "localhost:8080"},
		Archive: ArchiveConfig{Data: "data"},
		Ingest:  IngestConfig{Prefix: "/recordings/Files/", IdleTimeout: Duration{2 * time.Minute}},
		Log:     LogConfig{Level: "info", Format: "text"},
	}
}

// loadConfig reads path over the defaults; unknown keys and bad values are
// errors naming the file and line.
func loadConfig(path string) (Config, error) {
	cfg := defaultConfig()
	if path == "" {
		return cfg, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("config: %w", err)
	}
	dec := toml.NewDecoder(bytes.NewReader(b)).DisallowUnknownFields()
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
	return cfg, nil
}

// Validate checks values the decoder cannot.
func (c *Config) Validate() error {
	if c.Server.Listen == "" {
		return errors.New("config: server.listen is empty")
	}
	if c.Archive.Data == "" {
		return errors.New("config: archive.data is empty")
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.Log.Level)); err != nil {
		return fmt.Errorf("config: log.level %q: use debug, info, warn or error", c.Log.Level)
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		return fmt.Errorf("config: log.format %q: use text or json", c.Log.Format)
	}
	return nil
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

func (c *Config) passphrase() ([]byte, error) {
	if c.Archive.PassphraseFile == "" {
		if p := os.Getenv("CALLVAULT_PASSPHRASE"); p != "" {
			return []byte(p), nil
		}
		return nil, nil
	}
	b, err := os.ReadFile(c.Archive.PassphraseFile)
	if err != nil {
		return nil, fmt.Errorf("config: passphrase file: %w", err)
	}
	b = bytes.TrimRight(b, "\r\n")
	if len(b) == 0 {
		return nil, errors.New("config: passphrase file is empty")
	}
	return b, nil
}

func newLogger(c LogConfig, w io.Writer) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(c.Level))
	opt := &slog.HandlerOptions{Level: l}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opt))
	}
	return slog.New(slog.NewTextHandler(w, opt))
}
