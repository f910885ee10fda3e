package flex

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/callvault/callvault/internal/ratelimit"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/codec"
	"github.com/callvault/callvault/foureyes"
	"github.com/callvault/callvault/internal/byterange"
	"github.com/callvault/callvault/internal/webcore"
	"github.com/callvault/callvault/recinfo"
)

// Media renders stored recordings as audio; the recorder implements it.
type Media interface {
	// WAV renders call (0-based; < 0 for all) of each recording, joined in order.
	WAV(ctx context.Context, recs []*archive.Recording, call int, opt codec.WAVOptions) (*codec.WAVReader, error)
}

// DefaultValidateURL is Twilio's token validation endpoint.
const DefaultValidateURL = "https://iam.twilio.com/v1/Accounts/{AccountSid}/Tokens/validate"

// DefaultOrigin is the origin of the Flex application.
const DefaultOrigin = "https://flex.twilio.com"

// Identity rules of Options.UserMap.
const (
	MapExplicit  = "map"
	MapIdentity  = "identity"
	MapRealmUser = "realm_user_id"
	MapRealmPart = "realm_user_id_local"
)

// LinkLifetime is how long a media link is valid after it was made.
const LinkLifetime = 5 * time.Minute

// Limits of what is kept and accepted.
const (
	cacheTTL     = time.Minute
	cacheMax     = 4096
	linksMax     = 10000
	maxHeader    = 16 << 10
	maxParam     = 128
	maxAnswer    = 64 << 10
	apiPrefix    = "cvt_"
	auditURL     = "flex.url"
	auditPlay    = "play"
	msgBadAuth   = "authentication required: Authorization: Basic base64(\"token:\" + a Flex token or an API token)"
	msgNoUser    = "this Flex user has no archive account the appliance may use"
	msgFourEyes  = "4-eyes access: your supervisor has not granted access, or the grant ended"
	msgNotFound  = "not found"
	msgLink      = "this media link is not valid (expired, used by another client, or unknown); ask the url_provider again"
	msgRecording = "the recording is still being recorded; its audio is available when it is finished"
	msgNoCall    = "the recording holds no call the appliance can decode"
	msgSeal      = "the recording failed its integrity check; nothing is served"
)

// Options configure the url_provider.
type Options struct {
	// AccountSID and AuthToken are the Twilio account's credentials for
	// the token validation API. Without AccountSID, Flex tokens are
	// refused and only API tokens work.
	AccountSID, AuthToken string
	// ValidateURL is the validation endpoint; "{AccountSid}" is replaced.
	// Empty: DefaultValidateURL.
	ValidateURL string
	// AllowedOrigins may call from a browser page; nil: DefaultOrigin.
	AllowedOrigins []string
	// UserMap is the rule from Flex user to archive login (MapExplicit
	// when empty); Users names Flex users (identity or realm_user_id)
	// explicitly and comes first.
	UserMap string
	Users   map[string]string
	// BaseURL is the appliance's public URL that media links start with
	// (SetBaseURL changes it once the listeners are bound).
	BaseURL string
	// Client calls the validation API; nil: a client with a 10 s timeout.
	Client *http.Client
}

// Service answers /flex/url and serves /flex/media.
type Service struct {
	arc   *archive.Archive
	media Media
	fe    *foureyes.Access
	opt   Options
	log   *slog.Logger

	mu      sync.Mutex
	base    string
	cache   map[[32]byte]cached
	links   map[[32]byte]*link
	refused *ratelimit.Window // refused Flex tokens per client address (refusalsMax a minute)
}

// cached is a valid Flex token's answer, until when it may be reused.
type cached struct {
	res   tokenResult
	until time.Time
}

// link is one media link.
type link struct {
	login   string
	recs    []archive.ID
	target  string
	expires time.Time
	client  string // "" until first used
	played  bool   // a GET was served: the play is audited
}

// New returns the url_provider over arc. fe (may be nil) enforces 4-eyes
// access.
func New(arc *archive.Archive, media Media, fe *foureyes.Access, opt Options, log *slog.Logger) (*Service, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opt.ValidateURL == "" {
		opt.ValidateURL = DefaultValidateURL
	}
	if opt.AllowedOrigins == nil {
		opt.AllowedOrigins = []string{DefaultOrigin}
	}
	switch opt.UserMap {
	case "":
		opt.UserMap = MapExplicit
	case MapExplicit, MapIdentity, MapRealmUser, MapRealmPart:
	default:
		return nil, fmt.Errorf("flex: user map %q: use %s, %s, %s or %s", opt.UserMap, MapExplicit, MapIdentity, MapRealmUser, MapRealmPart)
	}
	if opt.Client == nil {
		// No redirects: the account's credentials go to the configured URL only.
		opt.Client = &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	return &Service{arc: arc, media: media, fe: fe, opt: opt, log: log, refused: ratelimit.New(refusalsMax, time.Minute), base: strings.TrimSuffix(opt.BaseURL, "/"),
		cache: map[[32]byte]cached{}, links: map[[32]byte]*link{}}, nil
}

// SetBaseURL sets the URL media links start with.
func (s *Service) SetBaseURL(u string) {
	s.mu.Lock()
	s.base = strings.TrimSuffix(u, "/")
	s.mu.Unlock()
}

// Handler serves /flex/url and /flex/media/{token}.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("OPTIONS /flex/url", s.preflight)
	mux.HandleFunc("OPTIONS /flex/media/{token}", s.preflight)
	mux.HandleFunc("GET /flex/url", s.url)
	mux.HandleFunc("GET /flex/media/{token}", s.mediaGet)
	return mux
}

// cors adds Access-Control-Allow-Origin for an allowed Origin and says
// whether it did.
func (s *Service) cors(w http.ResponseWriter, r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return false
	}
	w.Header().Add("Vary", "Origin")
	if !slices.Contains(s.opt.AllowedOrigins, o) {
		return false
	}
	w.Header().Set("Access-Control-Allow-Origin", o)
	w.Header().Set("Access-Control-Expose-Headers", "Content-Length, Content-Range, Accept-Ranges")
	return true
}

// preflight answers a CORS preflight without authentication.
func (s *Service) preflight(w http.ResponseWriter, r *http.Request) {
	if !s.cors(w, r) {
		writeError(w, http.StatusForbidden, "origin not allowed")
		return
	}
	w.Header().Set("Access-Control-Allow-Methods", "GET, OPTIONS")
	w.Header().Set("Access-Control-Allow-Headers", "Authorization, Range")
	w.Header().Set("Access-Control-Max-Age", "600")
	w.WriteHeader(http.StatusNoContent)
}

// Credential kinds.
const (
	credFlex = iota + 1
	credAPI
)

// parseAuthorization reads the Authorization header: Basic
// base64("token:"+secret) or Bearer secret. A secret starting with cvt_ is
// an API token, anything else a Flex token.
func parseAuthorization(h string) (kind int, secret string, err error) {
	if h == "" || len(h) > maxHeader {
		return 0, "", errors.New("no or oversized Authorization")
	}
	scheme, rest, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok {
		return 0, "", errors.New("no credentials")
	}
	rest = strings.TrimSpace(rest)
	switch {
	case strings.EqualFold(scheme, "Basic"):
		b, err := base64.StdEncoding.DecodeString(rest)
		if err != nil {
			return 0, "", errors.New("bad base64")
		}
		user, pass, ok := strings.Cut(string(b), ":")
		if !ok || user != "token" {
			return 0, "", errors.New(`the user part must be "token"`)
		}
		secret = pass
	case strings.EqualFold(scheme, "Bearer"):
		secret = rest
	default:
		return 0, "", errors.New("unknown scheme")
	}
	if secret == "" || strings.IndexFunc(secret, func(r rune) bool { return r <= ' ' || r == unicode.ReplacementChar || r == 0x7f }) >= 0 {
		return 0, "", errors.New("empty or malformed token")
	}
	if strings.HasPrefix(secret, apiPrefix) {
		return credAPI, secret, nil
	}
	return credFlex, secret, nil
}

// parseRecording reads ?recording=: a recording id (id set, guid the same
// text, for a call id that happens to parse) or a call id.
func parseRecording(v string) (id archive.ID, isID bool, guid string, err error) {
	if v == "" || len(v) > maxParam {
		return id, false, "", errors.New("recording must be 1 to 128 characters")
	}
	if strings.IndexFunc(v, func(r rune) bool { return unicode.IsControl(r) || r == unicode.ReplacementChar }) >= 0 {
		return id, false, "", errors.New("recording holds control characters")
	}
	if id, err := archive.ParseID(v); err == nil {
		return id, true, v, nil
	}
	return id, false, v, nil
}

// httpErr is a status and a message safe for the client.
type httpErr struct {
	code int
	msg  string
}

func (e *httpErr) Error() string { return strconv.Itoa(e.code) + " " + e.msg }

func errStatus(code int, msg string) error { return &httpErr{code, msg} }

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// fail writes err as a status; unexpected errors are logged.
func (s *Service) fail(w http.ResponseWriter, r *http.Request, err error) {
	var he *httpErr
	var le *archive.LimitedError
	switch {
	case errors.As(err, &he):
	case errors.As(err, &le):
		w.Header().Set("Retry-After", strconv.Itoa(le.RetrySeconds()))
		he = &httpErr{http.StatusTooManyRequests, "too many failed attempts; retry later"}
	case errors.Is(err, archive.ErrNotFound):
		he = &httpErr{http.StatusNotFound, msgNotFound}
	default:
		// The route's pattern, not the path: a media path holds its token.
		s.log.ErrorContext(r.Context(), "flex request failed", "route", r.Pattern, "err", err)
		he = &httpErr{http.StatusInternalServerError, "internal error"}
	}
	if he == errTooMany {
		w.Header().Set("Retry-After", "60")
	}
	if he.code == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="callvault flex", charset="UTF-8"`)
	}
	writeError(w, he.code, he.msg)
}

// url is GET /flex/url.
func (s *Service) url(w http.ResponseWriter, r *http.Request) {
	s.cors(w, r)
	if err := s.serveURL(w, r); err != nil {
		s.fail(w, r, err)
	}
}

func (s *Service) serveURL(w http.ResponseWriter, r *http.Request) error {
	u, who, err := s.authenticate(r)
	if err != nil {
		return err
	}
	if s.fe != nil && !s.fe.Allowed(u) {
		return errStatus(http.StatusForbidden, msgFourEyes)
	}
	id, isID, guid, err := parseRecording(r.URL.Query().Get("recording"))
	if err != nil {
		return errStatus(http.StatusBadRequest, err.Error())
	}
	recs, target, err := s.resolve(r.Context(), u, id, isID, guid)
	if err != nil {
		return err
	}
	if err := audible(recs); err != nil {
		return err
	}
	tok, err := s.mint(u.Login, recs, target)
	if err != nil {
		return err
	}
	if err := s.arc.Audit(r.Context(), archive.AuditEvent{Actor: u.Login, Action: auditURL, Target: target,
		Remote: archive.AddrHost(r.RemoteAddr), OK: true, Detail: who}); err != nil {
		s.forget(tok)
		return err
	}
	s.mu.Lock()
	base := s.base
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]string{"media_url": base + "/flex/media/" + tok})
	return nil
}

// resolve finds the recordings the request names that u may read: the
// recording with that id, else the call's segments.
func (s *Service) resolve(ctx context.Context, u *archive.User, id archive.ID, isID bool, guid string) ([]*archive.Recording, string, error) {
	if isID {
		rec, err := s.arc.Get(ctx, id)
		switch {
		case err == nil:
			if !s.mayRead(u, rec) {
				return nil, "", errStatus(http.StatusNotFound, msgNotFound)
			}
			return []*archive.Recording{rec}, rec.ID.String(), nil
		case !errors.Is(err, archive.ErrNotFound):
			return nil, "", err
		}
	}
	all, err := s.arc.ByCall(ctx, guid)
	if err != nil && !errors.Is(err, archive.ErrNotFound) {
		return nil, "", err
	}
	var recs []*archive.Recording
	for _, rec := range all {
		if s.mayRead(u, rec) {
			recs = append(recs, rec)
		}
	}
	if len(recs) == 0 {
		return nil, "", errStatus(http.StatusNotFound, msgNotFound)
	}
	return recs, guid, nil
}

func (s *Service) mayRead(u *archive.User, rec *archive.Recording) bool {
	if s.fe != nil {
		return s.fe.MayRead(u, rec)
	}
	return archive.MayRead(u, rec)
}

// audible refuses recordings still being recorded (409) and ones without
// a call (422).
func audible(recs []*archive.Recording) error {
	calls := 0
	for _, rec := range recs {
		if rec.State == archive.StateRecording {
			return errStatus(http.StatusConflict, msgRecording)
		}
		calls += len(recinfo.ParseLenient(rec.Info).Result.Calls)
	}
	if calls == 0 {
		return errStatus(http.StatusUnprocessableEntity, msgNoCall)
	}
	return nil
}

// authenticate finds the archive user of the request's credential and
// says how it was found (for the audit log; never the token).
func (s *Service) authenticate(r *http.Request) (*archive.User, string, error) {
	kind, secret, err := parseAuthorization(r.Header.Get("Authorization"))
	if err != nil {
		return nil, "", errStatus(http.StatusUnauthorized, msgBadAuth)
	}
	var u *archive.User
	var who string
	if kind == credAPI {
		u, err = s.arc.AuthenticateToken(r.Context(), archive.ClientAddr(r.RemoteAddr), secret)
		if errors.Is(err, archive.ErrBadCredentials) {
			s.log.InfoContext(r.Context(), "flex: API token refused", "remote", r.RemoteAddr)
			return nil, "", errStatus(http.StatusUnauthorized, msgBadAuth)
		}
		if err != nil {
			return nil, "", err
		}
		who = "API token"
	} else {
		res, err := s.validate(r.Context(), archive.ClientAddr(r.RemoteAddr), secret)
		if err != nil {
			return nil, "", err
		}
		login := s.loginOf(res)
		who = "Twilio Flex user " + res.Identity
		if login == "" {
			s.log.InfoContext(r.Context(), "flex: no archive user for a Flex user", "identity", res.Identity, "realm_user_id", res.RealmUserID)
			return nil, "", errStatus(http.StatusForbidden, msgNoUser)
		}
		u, err = s.arc.GetUser(r.Context(), login)
		if errors.Is(err, archive.ErrNotFound) {
			s.log.InfoContext(r.Context(), "flex: the mapped archive login does not exist", "identity", res.Identity, "login", login)
			return nil, "", errStatus(http.StatusForbidden, msgNoUser)
		}
		if err != nil {
			return nil, "", err
		}
	}
	if u.Disabled || u.Role == archive.RoleIngest {
		return nil, "", errStatus(http.StatusForbidden, msgNoUser)
	}
	return u, who, nil
}

// loginOf maps a valid token's user to an archive login; "" for none.
func (s *Service) loginOf(res *tokenResult) string {
	for _, k := range []string{res.Identity, res.RealmUserID} {
		if l, ok := s.opt.Users[k]; ok && k != "" {
			return l
		}
	}
	switch s.opt.UserMap {
	case MapIdentity:
		return res.Identity
	case MapRealmUser:
		return res.RealmUserID
	case MapRealmPart:
		local, _, ok := strings.Cut(res.RealmUserID, "@")
		if ok {
			return local
		}
	}
	return ""
}

// mint makes a media link and returns its token.
func (s *Service) mint(login string, recs []*archive.Recording, target string) (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	tok := base64.RawURLEncoding.EncodeToString(b)
	ids := make([]archive.ID, len(recs))
	for i, rec := range recs {
		ids[i] = rec.ID
	}
	now := s.arc.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, l := range s.links {
		if !now.Before(l.expires) {
			delete(s.links, k)
		}
	}
	if len(s.links) >= linksMax {
		return "", errStatus(http.StatusServiceUnavailable, "too many media links in use; retry in a few minutes")
	}
	s.links[sha256.Sum256([]byte(tok))] = &link{login: login, recs: ids, target: target, expires: now.Add(LinkLifetime)}
	return tok, nil
}

func (s *Service) forget(tok string) {
	s.mu.Lock()
	delete(s.links, sha256.Sum256([]byte(tok)))
	s.mu.Unlock()
}

// use finds the link of tok for this client: valid, and unused or used by
// the same client. first says whether this is its first GET (a play to
// audit).
func (s *Service) use(tok, client string, get bool) (l link, first, ok bool) {
	k := sha256.Sum256([]byte(tok))
	now := s.arc.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.links[k]
	switch {
	case p == nil:
		return l, false, false
	case !now.Before(p.expires):
		delete(s.links, k)
		return l, false, false
	case p.client == "":
		p.client = client
	case p.client != client:
		return l, false, false
	}
	if get && !p.played {
		p.played, first = true, true
	}
	return *p, first, true
}

// mediaGet is GET /flex/media/{token}.
func (s *Service) mediaGet(w http.ResponseWriter, r *http.Request) {
	s.cors(w, r)
	if err := s.serveMedia(w, r); err != nil {
		s.fail(w, r, err)
	}
}

func (s *Service) serveMedia(w http.ResponseWriter, r *http.Request) error {
	client := archive.AddrHost(r.RemoteAddr) + "\x00" + r.UserAgent()
	l, first, ok := s.use(r.PathValue("token"), client, r.Method == http.MethodGet)
	if !ok {
		return errStatus(http.StatusNotFound, msgLink)
	}
	ctx := r.Context()
	u, err := s.arc.GetUser(ctx, l.login)
	if err != nil || u.Disabled {
		return errStatus(http.StatusNotFound, msgLink)
	}
	recs := make([]*archive.Recording, 0, len(l.recs))
	for _, id := range l.recs {
		rec, err := s.arc.Get(ctx, id)
		if errors.Is(err, archive.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if s.mayRead(u, rec) {
			recs = append(recs, rec)
		}
	}
	if len(recs) == 0 {
		return errStatus(http.StatusNotFound, msgLink)
	}
	for _, rec := range recs {
		if _, err := s.arc.CheckPlayback(ctx, rec.ID); err != nil {
			if errors.Is(err, archive.ErrCorrupt) {
				s.log.ErrorContext(ctx, "flex: recording failed its integrity check; not served", "recording", rec.ID.String(), "err", err)
				return errStatus(http.StatusInternalServerError, msgSeal)
			}
			return err
		}
	}
	if s.fe != nil {
		var release func()
		var allowed bool
		w, r, release, allowed = s.fe.Bind(w, r, u)
		defer release()
		if !allowed {
			return errStatus(http.StatusNotFound, msgLink)
		}
	}
	wav, err := s.media.WAV(r.Context(), recs, -1, codec.WAVOptions{})
	if err != nil {
		return err
	}
	if byterange.RefuseTooMany(w, r, wav) {
		return nil
	}
	if err := webcore.Probe(wav, r.Header.Get("Range")); err != nil {
		if errors.Is(err, archive.ErrCorrupt) {
			return errStatus(http.StatusInternalServerError, msgSeal)
		}
		return err
	}
	if first {
		if err := s.arc.Audit(context.WithoutCancel(ctx), archive.AuditEvent{Actor: u.Login, Action: auditPlay, Target: l.target,
			Remote: archive.AddrHost(r.RemoteAddr), OK: true, Detail: "Twilio Flex media link"}); err != nil {
			return err
		}
	}
	w.Header().Set("Content-Type", "audio/wav")
	w.Header().Set("Cache-Control", "private, no-store")
	cr := webcore.NewCheckedReader(wav)
	http.ServeContent(w, r, "", recs[len(recs)-1].Finished, cr)
	if err := cr.Failed(); err != nil {
		if r.Context().Err() == nil {
			s.log.ErrorContext(ctx, "flex: serving a recording failed part way", "recording", l.target, "err", err)
		}
		panic(http.ErrAbortHandler) // the client sees a failed transfer, never a short file
	}
	return nil
}
