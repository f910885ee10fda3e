package flex

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/callvault/callvault/archive"
)

// refusalsMax is how many Flex tokens one client address may have refused
// in any minute; beyond it, 429 without asking the validation service, so
// that guessing cannot run the appliance into Twilio's rate limits.
const refusalsMax = 30

// limited says whether from may not try another Flex token now.
func (s *Service) limited(from netip.Addr, now time.Time) bool {
	return s.refused.Wait(refusalKey(from), now) > 0
}

// refuse counts a refused token of from.
func (s *Service) refuse(from netip.Addr) { s.refused.Note(refusalKey(from), s.arc.Now()) }

// refusalKey names the source refusals are counted for: its /64 when
// IPv6, as the archive's guessing limiter counts, since one client holds
// a whole /64 and picks its address at will.
func refusalKey(from netip.Addr) string { return archive.SourcePrefix(from).String() }

// tokenResult is the answer of Twilio's token validation API.
type tokenResult struct {
	Valid       bool     `json:"valid"`
	Code        int      `json:"code"`
	Message     *string  `json:"message"`
	Expiration  string   `json:"expiration"`
	RealmUserID string   `json:"realm_user_id"`
	Identity    string   `json:"identity"`
	Roles       []string `json:"roles"`
	WorkerSID   string   `json:"worker_sid"`
}

// Messages of validation failures.
const (
	msgInvalid     = "the Flex token is not valid or has expired"
	msgUnavailable = "the Flex token validation service is unavailable; retry later"
	msgMisconfig   = "the Flex token validation service refused the appliance's account credentials"
	msgNoFlex      = "Flex tokens are not accepted: no Twilio account is configured"
)

// validate checks a Flex token: from the cache, else with the validation
// API. Only a valid answer is returned without error.
func (s *Service) validate(ctx context.Context, from netip.Addr, token string) (*tokenResult, error) {
	if s.opt.AccountSID == "" {
		return nil, errStatus(http.StatusUnauthorized, msgNoFlex)
	}
	res, err := s.validateNow(ctx, from, token, s.arc.Now())
	var he *httpErr
	if errors.As(err, &he) && he.code == http.StatusUnauthorized {
		s.refuse(from)
	}
	return res, err
}

// errTooMany is the answer to a client with too many refused tokens.
var errTooMany = &httpErr{http.StatusTooManyRequests, "too many refused tokens from this address; retry in a minute"}

// validateNow answers from the cache, else asks the validation service
// unless from had too many tokens refused lately.
func (s *Service) validateNow(ctx context.Context, from netip.Addr, token string, now time.Time) (*tokenResult, error) {
	key := sha256.Sum256([]byte(token))
	s.mu.Lock()
	c, ok := s.cache[key]
	if ok && !now.Before(c.until) {
		delete(s.cache, key)
		ok = false
	}
	s.mu.Unlock()
	if ok {
		res := c.res
		return &res, nil
	}
	if s.limited(from, now) {
		return nil, errTooMany
	}
	res, err := s.ask(ctx, token)
	if err != nil {
		return nil, err
	}
	until := now.Add(cacheTTL)
	if res.Expiration != "" {
		exp, err := time.Parse(time.RFC3339Nano, res.Expiration)
		if err != nil {
			s.log.WarnContext(ctx, "flex: the validation service's expiration is not a time; the token is refused", "expiration", res.Expiration)
			return nil, errStatus(http.StatusUnauthorized, msgInvalid)
		}
		if !now.Before(exp) {
			return nil, errStatus(http.StatusUnauthorized, msgInvalid)
		}
		if exp.Before(until) {
			until = exp
		}
	}
	s.mu.Lock()
	if len(s.cache) >= cacheMax {
		for k, v := range s.cache {
			if !now.Before(v.until) {
				delete(s.cache, k)
			}
		}
		for k := range s.cache { // still full: drop any
			if len(s.cache) < cacheMax {
				break
			}
			delete(s.cache, k)
		}
	}
	s.cache[key] = cached{res: *res, until: until}
	s.mu.Unlock()
	return res, nil
}

// ask calls the validation API.
func (s *Service) ask(ctx context.Context, token string) (*tokenResult, error) {
	body, err := json.Marshal(map[string]string{"token": token})
	if err != nil {
		return nil, err
	}
	u := strings.ReplaceAll(s.opt.ValidateURL, "{AccountSid}", s.opt.AccountSID)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.SetBasicAuth(s.opt.AccountSID, s.opt.AuthToken)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Cache-Control", "no-cache")
	resp, err := s.opt.Client.Do(req)
	if err != nil {
		// The error names the URL, never the token (it is in the body).
		s.log.WarnContext(ctx, "flex: token validation service unreachable", "err", err)
		return nil, errStatus(http.StatusServiceUnavailable, msgUnavailable)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		s.log.WarnContext(ctx, "flex: reading the token validation answer", "err", err)
		return nil, errStatus(http.StatusServiceUnavailable, msgUnavailable)
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		s.log.ErrorContext(ctx, "flex: the token validation service refused the configured account_sid and auth token", "status", resp.StatusCode)
		return nil, errStatus(http.StatusBadGateway, msgMisconfig)
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		s.log.WarnContext(ctx, "flex: token validation service failed", "status", resp.StatusCode)
		return nil, errStatus(http.StatusServiceUnavailable, msgUnavailable)
	case resp.StatusCode >= 400:
		return nil, errStatus(http.StatusUnauthorized, msgInvalid)
	case resp.StatusCode != http.StatusOK:
		s.log.WarnContext(ctx, "flex: unexpected answer of the token validation service", "status", resp.StatusCode)
		return nil, errStatus(http.StatusServiceUnavailable, msgUnavailable)
	}
	var res tokenResult
	if err := json.Unmarshal(b, &res); err != nil {
		s.log.WarnContext(ctx, "flex: the token validation answer is not JSON", "err", err)
		return nil, errStatus(http.StatusServiceUnavailable, msgUnavailable)
	}
	if !res.Valid {
		s.log.InfoContext(ctx, "flex: token refused by the validation service", "code", res.Code)
		return nil, errStatus(http.StatusUnauthorized, msgInvalid)
	}
	return &res, nil
}
