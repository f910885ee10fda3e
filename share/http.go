package share

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/internal/byterange"
)

// pageCSP is the recipient page's content policy: scripts, styles and
// connections only from its own assets (no inline script or style; see
// renderPage), and forms only to itself (the language form without
// script).
const pageCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"media-src 'self'; connect-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// Code rules.
const (
	codeLifetime   = 10 * time.Minute
	codeWrongMax   = 5
	cookieName     = "callvault_link"
	maxRequestBody = 4 << 10
)

// encodeToken is base64url without padding.
func encodeToken(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// parseToken checks a link, session or internal-link token: 32
// characters of base64url (192 bits).
func parseToken(s string) ([]byte, bool) {
	if len(s) != 32 {
		return nil, false
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != 24 || encodeToken(b) != s {
		return nil, false
	}
	return b, true
}

// parseCode reads {"code":"123456"}: six ASCII digits.
func parseCode(r *http.Request) (string, error) {
	var req struct {
		Code string `json:"code"`
	}
	if err := decodeJSON(r, &req); err != nil {
		return "", err
	}
	c := strings.TrimSpace(req.Code)
	if len(c) != 6 || strings.Trim(c, "0123456789") != "" {
		return "", errors.New("the code is six digits")
	}
	return c, nil
}

// parseTerms reads {"language":"en","accept":true}.
func parseTerms(r *http.Request) (string, bool, error) {
	var req struct {
		Language string `json:"language"`
		Accept   bool   `json:"accept"`
	}
	if err := decodeJSON(r, &req); err != nil {
		return "", false, err
	}
	if !validLanguage(req.Language) {
		return "", false, errors.New("unknown language")
	}
	return req.Language, req.Accept, nil
}

// errNotJSON refuses a body not declared as application/json: a form
// another site posts cannot be one.
var errNotJSON = &Error{Status: http.StatusUnsupportedMediaType, Msg: "the request body must be application/json"}

// decodeJSON reads r's body, which must be declared application/json and
// hold one JSON value of v's fields.
func decodeJSON(r *http.Request, v any) error {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return errNotJSON
	}
	return decodeBody(r.Body, v)
}

func decodeBody(rd io.Reader, v any) error {
	dec := json.NewDecoder(io.LimitReader(rd, maxRequestBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errors.New("the request body is not the expected JSON")
	}
	if dec.More() {
		return errors.New("the request body holds more than one JSON value")
	}
	return nil
}

// statusOf is the status of a refused request body: 415 or 400.
func statusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return http.StatusBadRequest
}

type sessionRecord struct {
	Link    string    `json:"link"`
	Expires time.Time `json:"expires"`
	Terms   bool      `json:"terms,omitempty"`
	Lang    string    `json:"lang,omitempty"`
}

// Handler serves the playback zone: /p/{token} and below. It shares no
// handler, session or cookie with the UI.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /p/{token}", s.page)
	mux.HandleFunc("GET /p/{token}/static/", s.static)
	mux.HandleFunc("GET /p/{token}/logo", s.logo)
	// The routes that change state take no request another site made
	// (a form, or a script's simple request).
	cop := http.NewCrossOriginProtection()
	mux.Handle("POST /p/{token}/api/code", cop.Handler(http.HandlerFunc(s.apiCode)))
	mux.Handle("POST /p/{token}/api/session", cop.Handler(http.HandlerFunc(s.apiSession)))
	mux.HandleFunc("GET /p/{token}/api/terms", s.apiTermsGet)
	mux.Handle("POST /p/{token}/api/terms", cop.Handler(http.HandlerFunc(s.apiTermsPost)))
	mux.HandleFunc("GET /p/{token}/api/recordings", s.apiRecordings)
	mux.HandleFunc("GET /p/{token}/audio/{id}", s.audio)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		if r.TLS != nil {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		mux.ServeHTTP(w, r)
	})
}

// noStore keeps Cache-Control: no-store on an answer http.ServeContent
// writes: it drops that header from its error answers (416).
type noStore struct{ http.ResponseWriter }

func (w noStore) WriteHeader(code int) {
	if w.Header().Get("Cache-Control") == "" {
		w.Header().Set("Cache-Control", "no-store")
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w noStore) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func jsonError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

func (s *Service) internalError(w http.ResponseWriter, r *http.Request, err error) {
	s.log.ErrorContext(r.Context(), "share: playback zone", "path", redactPath(r.URL.Path), "err", err)
	jsonError(w, http.StatusInternalServerError, "internal error")
}

// redactPath drops the token from a path for the log.
func redactPath(p string) string {
	parts := strings.SplitN(p, "/", 4)
	if len(parts) >= 3 && parts[1] == "p" {
		parts[2] = "…"
	}
	return strings.Join(parts, "/")
}

// link resolves the request's token; nil (and a 404 written) when it
// names no link.
func (s *Service) link(w http.ResponseWriter, r *http.Request) *linkRecord {
	tok := r.PathValue("token")
	if _, ok := parseToken(tok); !ok {
		jsonError(w, http.StatusNotFound, "no such link")
		return nil
	}
	var l *linkRecord
	err := s.db.View(func(tx *bolt.Tx) error {
		id := tx.Bucket(bTokens).Get(hashToken(tok))
		if id == nil {
			return errNoLink
		}
		var err error
		l, err = s.linkTx(tx, string(id))
		return err
	})
	if errors.Is(err, errNoLink) {
		jsonError(w, http.StatusNotFound, "no such link")
		return nil
	}
	if err != nil {
		s.internalError(w, r, err)
		return nil
	}
	return l
}

// grantsOf returns the link's valid grants, newest first.
func (s *Service) grantsOf(tx *bolt.Tx, l *linkRecord, now time.Time) ([]*grantRecord, error) {
	var out []*grantRecord
	for _, id := range l.Grants {
		g, err := s.grantTx(tx, id)
		if err != nil {
			return nil, err
		}
		if g.status(now) == StatusValid {
			out = append(out, g)
		}
	}
	slices.SortFunc(out, func(a, b *grantRecord) int { return b.Created.Compare(a.Created) })
	return out, nil
}

func (s *Service) page(w http.ResponseWriter, r *http.Request) {
	l := s.link(w, r)
	if l == nil {
		return
	}
	cfg, err := s.Config(r.Context())
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	lang := r.URL.Query().Get("lang")
	if !validLanguage(lang) {
		lang = "en"
		s.db.View(func(tx *bolt.Tx) error {
			if gs, err := s.grantsOf(tx, l, s.now()); err == nil && len(gs) > 0 {
				lang = gs[0].Language
			}
			return nil
		})
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", pageCSP)
	var buf bytes.Buffer
	if err := renderPage(&buf, PageData{Lang: lang, Base: "/p/" + r.PathValue("token"), Logo: len(cfg.Logo) > 0, Footer: cfg.Footer}); err != nil {
		s.internalError(w, r, err)
		return
	}
	w.Write(buf.Bytes())
}

func (s *Service) static(w http.ResponseWriter, r *http.Request) {
	if _, ok := parseToken(r.PathValue("token")); !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	http.StripPrefix("/p/"+r.PathValue("token")+"/static", staticHandler()).ServeHTTP(w, r)
}

func (s *Service) logo(w http.ResponseWriter, r *http.Request) {
	if s.link(w, r) == nil {
		return
	}
	cfg, err := s.Config(r.Context())
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	t := LogoType(cfg.Logo)
	if t == "" {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", t)
	w.Write(cfg.Logo)
}

func tooMany(w http.ResponseWriter, wait time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(max(1, int((wait+time.Second-1)/time.Second))))
	jsonError(w, http.StatusTooManyRequests, "too many attempts; try again later")
}

// newCode is six random digits.
func newCode() string {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		panic(err)
	}
	return fmt.Sprintf("%06d", n.Int64())
}

func (s *Service) codeMAC(link, code string) []byte { return s.mac("code", link+"\x00"+code) }

// apiCode mails a new one-time code for the client's source to the link's
// address; it voids only that source's previous code. The answer is the
// same whether or not a mail went out. Limits: code_limit.go.
func (s *Service) apiCode(w http.ResponseWriter, r *http.Request) {
	l := s.link(w, r)
	if l == nil {
		return
	}
	now := s.now()
	src := sourceOf(r.RemoteAddr)
	if wait := s.limits.takeCode(src, now); wait > 0 {
		s.refuse(w, r, l, actionCodeRequest, src, "too many code requests from this address", wait, now)
		return
	}
	key := s.sourceKey(src)
	var wait time.Duration
	var why string
	sent := false
	err := s.db.Update(func(tx *bolt.Tx) error {
		l, err := s.linkTx(tx, l.ID)
		if err != nil {
			return err
		}
		l.prune(now)
		wait, why = l.codeWait(key, now)
		if wait > 0 {
			return nil
		}
		gs, err := s.grantsOf(tx, l, now)
		if err != nil {
			return err
		}
		if len(gs) == 0 {
			return nil // nothing to listen to: no mail, the same answer
		}
		code := newCode()
		c := codeRecord{Source: key, MAC: s.codeMAC(l.ID, code), Until: now.Add(codeLifetime)}
		l.Codes = append(slices.DeleteFunc(l.Codes, func(c codeRecord) bool { return bytes.Equal(c.Source, key) }), c)
		l.Issued = append(l.Issued, sourceTime{Source: key, At: now})
		lang := r.URL.Query().Get("lang")
		if !validLanguage(lang) {
			lang = r.URL.Query().Get("language")
		}
		if !validLanguage(lang) {
			lang = gs[0].Language
		}
		subject, body := CodeMail(lang, code)
		cfg, _ := s.Config(r.Context())
		from := s.From(cfg)
		if _, err := s.queueTx(tx, mailRecord{Kind: "code", Queued: now, Expires: c.Until,
			Msg: mailMsg{To: l.Email, ToName: l.Name, From: from, Subject: subject, Body: body, Secret: code}}); err != nil {
			return err
		}
		sent = true
		return s.putLinkTx(tx, l)
	})
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	if wait > 0 {
		s.refuse(w, r, l, actionCodeRequest, "link\x00"+src, why, wait, now)
		return
	}
	if sent {
		s.kick()
		s.codeAudit(r, l, actionCodeRequest, true, "code mailed to the link's address")
	} else {
		s.codeAudit(r, l, actionCodeRequest, false, "no code mailed: the link has nothing left to play")
	}
	writeJSON(w, http.StatusAccepted, struct{}{})
}

// sourceKey is how the link's record names a source: an HMAC, so the
// store keeps no client address.
func (s *Service) sourceKey(src string) []byte { return s.mac("source", src)[:16] }

// prune drops l's expired codes and the issues older than a day.
func (l *linkRecord) prune(now time.Time) {
	l.Codes = slices.DeleteFunc(l.Codes, func(c codeRecord) bool { return !now.Before(c.Until) })
	l.Issued = slices.DeleteFunc(l.Issued, func(i sourceTime) bool { return now.Sub(i.At) >= 24*time.Hour || i.At.After(now) })
}

// opened reports whether a right code came from source key.
func (l *linkRecord) opened(key []byte) bool {
	return slices.ContainsFunc(l.Opened, func(o sourceTime) bool { return bytes.Equal(o.Source, key) })
}

// codeWait is how long source key must wait for a new code of l, and
// why; 0 when a code may go out now (code_limit.go).
func (l *linkRecord) codeWait(key []byte, now time.Time) (time.Duration, string) {
	var mine, fresh []time.Time
	for _, i := range l.Issued {
		switch {
		case bytes.Equal(i.Source, key):
			mine = append(mine, i.At)
		case !l.opened(i.Source):
			fresh = append(fresh, i.At)
		}
	}
	w := max(windowWait(mine, codesPerHour, time.Hour, now), windowWait(mine, codesPerDay, 24*time.Hour, now))
	if w > 0 {
		return w, "too many codes for this address"
	}
	if l.opened(key) {
		return 0, ""
	}
	fresh = append(fresh, mine...)
	slices.SortFunc(fresh, time.Time.Compare)
	w = max(windowWait(fresh, newCodesPerHour, time.Hour, now), windowWait(fresh, newCodesPerDay, 24*time.Hour, now))
	if w > 0 {
		return w, "too many codes for addresses the link was never opened from"
	}
	return 0, ""
}

// refuse answers 429 to a request refused by a limit, and audits the
// first refusal of each wait (key: the limit's door, link and source);
// the refusals in between are counted into the next entry.
func (s *Service) refuse(w http.ResponseWriter, r *http.Request, l *linkRecord, action, key, why string, wait time.Duration, now time.Time) {
	if audit, skipped := s.limits.refused(action+"\x00"+l.ID+"\x00"+key, now.Add(wait), now); audit {
		detail := "refused: " + why + ", retry after " + wait.Round(time.Second).String()
		if skipped > 0 {
			detail += fmt.Sprintf("; %d earlier refusals not logged one by one", skipped)
		}
		s.codeAudit(r, l, action, false, detail)
	}
	tooMany(w, wait)
}

// codeAudit records a code request, a code entry or the terms in the
// audit log under the link's recipient. detail never holds a code or a
// token.
func (s *Service) codeAudit(r *http.Request, l *linkRecord, action string, ok bool, detail string) {
	err := s.arc.Audit(context.WithoutCancel(r.Context()), archive.AuditEvent{Actor: "external:" + l.Email, Action: action,
		Remote: r.RemoteAddr, OK: ok, Detail: detail})
	if err != nil {
		s.log.ErrorContext(r.Context(), "share: audit", "action", action, "err", err)
	}
}

// apiSession checks a code against the client source's own code and opens
// a session. Every entry counts as a failure of the source until it
// proves right.
func (s *Service) apiSession(w http.ResponseWriter, r *http.Request) {
	l := s.link(w, r)
	if l == nil {
		return
	}
	code, err := parseCode(r)
	if err != nil {
		jsonError(w, statusOf(err), err.Error())
		return
	}
	cfg, err := s.Config(r.Context())
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	now := s.now()
	src := sourceOf(r.RemoteAddr)
	en, wait := s.limits.beginEntry(src, now)
	if wait > 0 {
		s.refuse(w, r, l, actionCodeEnter, src, "too many failed code entries from this address", wait, now)
		return
	}
	key := s.sourceKey(src)
	var ok, none bool
	var left int
	tok := newToken()
	err = s.db.Update(func(tx *bolt.Tx) error {
		l, err := s.linkTx(tx, l.ID)
		if err != nil {
			return err
		}
		l.prune(now)
		i := slices.IndexFunc(l.Codes, func(c codeRecord) bool { return bytes.Equal(c.Source, key) })
		if i < 0 {
			none = true
			return s.putLinkTx(tx, l)
		}
		c := &l.Codes[i]
		if hmac.Equal(c.MAC, s.codeMAC(l.ID, code)) {
			ok = true
			l.Codes = slices.Delete(l.Codes, i, i+1)
			l.Opened = append(slices.DeleteFunc(l.Opened, func(o sourceTime) bool { return bytes.Equal(o.Source, key) }), sourceTime{Source: key, At: now})
			if len(l.Opened) > maxOpened {
				l.Opened = slices.Delete(l.Opened, 0, len(l.Opened)-maxOpened)
			}
			if err := s.putLinkTx(tx, l); err != nil {
				return err
			}
			b, _ := json.Marshal(sessionRecord{Link: l.ID, Expires: now.Add(cfg.SessionLifetime)})
			return tx.Bucket(bSessions).Put(hashToken(tok), b)
		}
		c.Wrong++
		left = codeWrongMax - c.Wrong
		if left <= 0 {
			l.Codes, left = slices.Delete(l.Codes, i, i+1), 0
		}
		return s.putLinkTx(tx, l)
	})
	if err != nil {
		s.limits.undo(en, now)
		s.internalError(w, r, err)
		return
	}
	switch {
	case ok:
		s.limits.undo(en, now)
		s.codeAudit(r, l, actionCodeEnter, true, "right code: session opened")
	case none:
		s.codeAudit(r, l, actionCodeEnter, false, "no code for this address (expired, used, voided or never asked for)")
	case left == 0:
		s.codeAudit(r, l, actionCodeEnter, false, fmt.Sprintf("wrong code; the code is void after %d wrong entries", codeWrongMax))
	default:
		s.codeAudit(r, l, actionCodeEnter, false, fmt.Sprintf("wrong code; %d attempts left", left))
	}
	if !ok {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "wrong code", "attemptsLeft": left})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: tok, Path: "/p/" + r.PathValue("token"), HttpOnly: true,
		Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode, MaxAge: int(cfg.SessionLifetime / time.Second)})
	writeJSON(w, http.StatusOK, map[string]bool{"termsAccepted": false})
}

// session returns the request's live session of link l, or writes 401.
func (s *Service) session(w http.ResponseWriter, r *http.Request, l *linkRecord) (*sessionRecord, []byte) {
	c, err := r.Cookie(cookieName)
	if err == nil {
		if _, ok := parseToken(c.Value); ok {
			k := hashToken(c.Value)
			var sr sessionRecord
			s.db.View(func(tx *bolt.Tx) error {
				if b := tx.Bucket(bSessions).Get(k); b != nil {
					json.Unmarshal(b, &sr)
				}
				return nil
			})
			if sr.Link == l.ID && s.now().Before(sr.Expires) {
				return &sr, k
			}
		}
	}
	if s.ended(l) {
		// Nothing is left to listen to: say so rather than offer a code
		// that would never be mailed.
		jsonError(w, http.StatusGone, "the link has expired")
		return nil, nil
	}
	jsonError(w, http.StatusUnauthorized, "no session; request a code")
	return nil, nil
}

// ended reports whether link l has no valid grant left.
func (s *Service) ended(l *linkRecord) bool {
	n := 1
	s.db.View(func(tx *bolt.Tx) error {
		gs, err := s.grantsOf(tx, l, s.now())
		if err == nil {
			n = len(gs)
		}
		return nil
	})
	return n == 0
}

func (s *Service) apiTermsGet(w http.ResponseWriter, r *http.Request) {
	l := s.link(w, r)
	if l == nil {
		return
	}
	if sr, _ := s.session(w, r, l); sr == nil {
		return
	}
	cfg, err := s.Config(r.Context())
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	lang, text := cfg.termsFor(r.URL.Query().Get("language"))
	writeJSON(w, http.StatusOK, map[string]string{"language": lang, "text": text})
}

func (s *Service) apiTermsPost(w http.ResponseWriter, r *http.Request) {
	l := s.link(w, r)
	if l == nil {
		return
	}
	sr, k := s.session(w, r, l)
	if sr == nil {
		return
	}
	lang, accept, err := parseTerms(r)
	if err != nil {
		jsonError(w, statusOf(err), err.Error())
		return
	}
	if !accept {
		jsonError(w, http.StatusBadRequest, "the terms must be accepted to listen")
		return
	}
	sr.Terms, sr.Lang = true, lang
	b, _ := json.Marshal(sr)
	if err := s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bSessions).Put(k, b) }); err != nil {
		s.internalError(w, r, err)
		return
	}
	s.codeAudit(r, l, actionTerms, true, "terms of use accepted, language "+lang)
	writeJSON(w, http.StatusOK, struct{}{})
}

// listed is a recording as the page lists it.
type listed struct {
	ID           string    `json:"id"`
	Start        time.Time `json:"start"`
	DurationMs   int64     `json:"durationMs"`
	AccessNumber string    `json:"accessNumber,omitempty"`
	QueueName    string    `json:"queueName,omitempty"`
	Audio        string    `json:"audio"`
	ExpiresAt    time.Time `json:"expiresAt"`
}

// playable is a copied recording of a valid grant.
type playable struct {
	grant *grantRecord
	gid   []byte
	idx   uint16
	meta  recMeta
	aead  interface {
		Open(dst, nonce, ciphertext, additionalData []byte) ([]byte, error)
	}
}

// playables returns the recordings the link can play now, one per
// recording id (the grant that ends last wins).
func (s *Service) playables(tx *bolt.Tx, l *linkRecord, now time.Time) ([]*playable, error) {
	gs, err := s.grantsOf(tx, l, now)
	if err != nil {
		return nil, err
	}
	byID := map[string]*playable{}
	var out []*playable
	for _, g := range gs {
		gid, err := hex.DecodeString(g.ID)
		if err != nil {
			return nil, err
		}
		a, err := s.grantAEAD(gid, tx.Bucket(bKeys).Get(gid))
		if err != nil {
			return nil, err
		}
		if a == nil {
			continue
		}
		var metas []recMeta
		if err := openJSON(a, "recordings", gid, tx.Bucket(bRecs).Get(gid), &metas); err != nil {
			return nil, err
		}
		for i, m := range metas {
			p := &playable{grant: g, gid: gid, idx: uint16(i), meta: m, aead: a}
			if old := byID[m.ID]; old != nil {
				if g.Expires.After(old.grant.Expires) {
					*old = *p
				}
				continue
			}
			byID[m.ID] = p
			out = append(out, p)
		}
	}
	return out, nil
}

// ready returns the link and session for a request that needs accepted
// terms, or writes the refusal.
func (s *Service) ready(w http.ResponseWriter, r *http.Request) *linkRecord {
	l := s.link(w, r)
	if l == nil {
		return nil
	}
	sr, _ := s.session(w, r, l)
	if sr == nil {
		return nil
	}
	if !sr.Terms {
		jsonError(w, http.StatusForbidden, "terms not accepted")
		return nil
	}
	return l
}

func (s *Service) apiRecordings(w http.ResponseWriter, r *http.Request) {
	l := s.ready(w, r)
	if l == nil {
		return
	}
	_, zone := s.location(r.Context())
	var out []listed
	err := s.db.View(func(tx *bolt.Tx) error {
		ps, err := s.playables(tx, l, s.now())
		for _, p := range ps {
			out = append(out, listed{ID: p.meta.ID, Start: p.meta.Start, DurationMs: p.meta.DurationMs, AccessNumber: p.meta.AccessNumber,
				QueueName: p.meta.QueueName, Audio: "/p/" + r.PathValue("token") + "/audio/" + p.meta.ID, ExpiresAt: p.grant.Expires})
		}
		return err
	})
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	if out == nil {
		out = []listed{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"timeZone": zone, "recordings": out})
}

// audio serves a copied recording as audio/wav with Range; each listening
// is one "play" in the audit log.
func (s *Service) audio(w http.ResponseWriter, r *http.Request) {
	l := s.ready(w, r)
	if l == nil {
		return
	}
	id := r.PathValue("id")
	var p *playable
	err := s.db.View(func(tx *bolt.Tx) error {
		ps, err := s.playables(tx, l, s.now())
		for _, q := range ps {
			if q.meta.ID == id {
				p = q
			}
		}
		return err
	})
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	if p == nil {
		jsonError(w, http.StatusNotFound, "no such recording")
		return
	}
	if byterange.TooMany(r) {
		// Thousands of tiny ranges would make one request cost many
		// times the file; players ask for one.
		byterange.Refuse(noStore{w}, p.meta.Size)
		return
	}
	rd := &chunkReader{s: s, p: p}
	// Read where the answer starts before any status is sent, so a copy
	// destroyed since the list was read is a clear 410.
	if ranges, err := byterange.Parse(r.Header.Get("Range"), p.meta.Size); !errors.Is(err, byterange.ErrNoOverlap) {
		start := int64(0) // no range, or one ServeContent refuses: from the start
		if len(ranges) > 0 {
			start = ranges[0].Start
		}
		if start < p.meta.Size {
			if err := rd.load(start / chunkSize); err != nil {
				jsonError(w, http.StatusGone, "the recording is no longer available")
				return
			}
		}
	}
	if r.Method != http.MethodHead {
		key := l.ID + "\x00" + id
		if s.plays.Start(key, s.now()) {
			err := s.arc.Audit(r.Context(), archive.AuditEvent{Actor: "external:" + l.Email, Action: actionPlay, Target: id,
				Remote: r.RemoteAddr, OK: true, Detail: "external link " + p.grant.ID})
			if err != nil {
				s.plays.Forget(key)
				s.internalError(w, r, err)
				return
			}
		}
	}
	w.Header().Set("Content-Type", "audio/wav")
	w.Header().Set("Content-Disposition", "inline")
	http.ServeContent(noStore{w}, r, "", time.Time{}, rd)
	if err := rd.failed(); err != nil {
		if r.Context().Err() == nil {
			s.log.ErrorContext(r.Context(), "share: serving audio failed part way", "err", err)
		}
		// The status and length are sent: a reset, never a short file.
		panic(http.ErrAbortHandler)
	}
}

// chunkReader reads a copied recording, decrypting only the chunks read.
type chunkReader struct {
	s   *Service
	p   *playable
	off int64
	cur int64 // index of the chunk in buf, -1 for none
	buf []byte
	ok  bool

	mu  sync.Mutex // ServeContent may read from another goroutine
	err error
}

func (c *chunkReader) failed() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *chunkReader) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		off += c.off
	case io.SeekEnd:
		off += c.p.meta.Size
	default:
		return 0, errors.New("share: bad whence")
	}
	if off < 0 {
		return 0, errors.New("share: negative offset")
	}
	c.off = off
	return off, nil
}

func (c *chunkReader) Read(b []byte) (int, error) {
	if c.off >= c.p.meta.Size {
		return 0, io.EOF
	}
	idx := c.off / chunkSize
	if !c.ok || c.cur != idx {
		if err := c.load(idx); err != nil {
			c.mu.Lock()
			c.err = err
			c.mu.Unlock()
			return 0, err
		}
	}
	n := copy(b, c.buf[c.off-idx*chunkSize:])
	c.off += int64(n)
	return n, nil
}

func (c *chunkReader) load(idx int64) error {
	k := chunkKey(c.p.gid, c.p.idx, uint32(idx))
	var box []byte
	c.s.db.View(func(tx *bolt.Tx) error {
		box = bytes.Clone(tx.Bucket(bChunks).Get(k))
		return nil
	})
	if box == nil {
		return errors.New("share: the copy is gone (cancelled or expired)")
	}
	p, err := c.p.aead.Open(c.buf[:0], chunkNonce(c.p.idx, uint32(idx)), box, ad("chunk", k))
	if err != nil {
		return errAuth
	}
	c.buf, c.cur, c.ok = p, idx, true
	return nil
}
