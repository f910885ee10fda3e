package main

import (
	"strings"
	"time"

	"github.com/callvault/callvault/legs"
)

// LegsConfig tunes the call-leg lookup of contact centres
// (GET /api/v1/legs/{legId}).
type LegsConfig struct {
	// CountryCode is the country national numbers (0…) are read in, as
	// digits ("46"); empty: a national number matches only itself.
	CountryCode string `toml:"country_code"`
	// MaxDistance bounds how far the chosen leg's start may be from the
	// leg id's time.
	MaxDistance Duration `toml:"max_distance"`
	// HoldGap is the longest gap between two segments of one agent and
	// caller that is a hold within one leg.
	HoldGap Duration `toml:"hold_gap"`
}

func defaultLegsConfig() LegsConfig {
	return LegsConfig{MaxDistance: Duration{legs.DefaultMaxDistance}, HoldGap: Duration{legs.DefaultHoldGap}}
}

// validateLegs checks the [legs] section.
func (c *Config) validateLegs() error {
	cc := c.Legs.CountryCode
	if cc != "" && (len(cc) > 3 || strings.Trim(cc, "0123456789") != "" || cc[0] == '0') {
		return badValue("legs.country_code", "%q: give the country calling code as 1 to 3 digits, such as \"46\"", cc)
	}
	if c.Legs.MaxDistance.Duration <= 0 || c.Legs.MaxDistance.Duration > 24*time.Hour {
		return badValue("legs.max_distance", "must be more than 0 and at most 24h")
	}
	if c.Legs.HoldGap.Duration <= 0 || c.Legs.HoldGap.Duration > time.Hour {
		return badValue("legs.hold_gap", "must be more than 0 and at most 1h")
	}
	return nil
}

func (c *LegsConfig) options() legs.Options {
	return legs.Options{Country: c.CountryCode, MaxDistance: c.MaxDistance.Duration, HoldGap: c.HoldGap.Duration}
}
