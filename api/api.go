package api

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/callvault/callvault/internal/listening"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/codec"
	"github.com/callvault/callvault/foureyes"
	"github.com/callvault/callvault/internal/byterange"
	"github.com/callvault/callvault/internal/webcore"
	"github.com/callvault/callvault/internal/websession"
	"github.com/callvault/callvault/legs"
	"github.com/callvault/callvault/share"
	"github.com/callvault/callvault/webhook"
)

// API serves the JSON API.
type API struct {
	arc     *archive.Archive
	media   webcore.Media
	log     *slog.Logger
	keyFile string // rotated by POST /api/v1/settings/key (SetKeyFile)
	// fourEyes is 4-eyes access (SetFourEyes); nil restricts nothing.
	fourEyes *foureyes.Access
	// plays are the listening sessions (playback.go), failures the
	// integrity failures audited lately; both run on the archive's clock.
	plays, failures listening.Sessions
	// shares sends and lists secure links (SetShares); nil answers 503.
	shares *share.Service
	// legs tunes the call-leg lookup (SetLegs, legs.go).
	legs legs.Options
	// hooks manages webhooks (SetWebhooks); nil answers 503.
	hooks *webhook.Service
	// pauser pauses calls being recorded (SetPauser, pause.go); nil answers 503.
	pauser Pauser
}

// New returns the JSON API over arc.
func New(arc *archive.Archive, media webcore.Media, log *slog.Logger) *API {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &API{arc: arc, media: media, log: log}
}

// Routes returns the API's handler, to be mounted at /api/v1/.
func (a *API) Routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /api/v1/recordings", a.wrap(a.recordingList))
	mux.Handle("GET /api/v1/recordings/{id}", a.wrap(a.recordingShow))
	mux.Handle("GET /api/v1/recordings/{id}/audio.wav", a.wrap(a.recordingAudio))
	mux.Handle("GET /api/v1/recordings/{id}/original.pcap", a.wrap(a.recordingOriginal))
	mux.Handle("GET /api/v1/recordings/{id}/verify", a.wrap(a.recordingVerify))
	mux.Handle("GET /api/v1/recordings/{id}/peaks", a.wrap(a.recordingPeaks))
	mux.Handle("GET /api/v1/recordings/{id}/download.zip", a.wrap(a.recordingDownload))
	mux.Handle("GET /api/v1/calls/{guid}/audio.wav", a.wrap(a.callAudio))
	mux.Handle("GET /api/v1/calls/{guid}", a.wrap(a.callShow))
	mux.Handle("GET /api/v1/calls/{guid}/peaks", a.wrap(a.callPeaks))           // peaks.go
	mux.Handle("GET /api/v1/calls/{guid}/download.zip", a.wrap(a.callDownload)) // zip.go
	a.accountRoutes(mux)                                                        // api_routes.go: users, tokens, notes, audit, settings
	a.fourEyesAPIRoutes(mux)                                                    // foureyes.go
	a.lifecycleRoutes(mux)                                                      // api_lifecycle.go: delete, legal hold, recycle bin, seal chain
	a.shareRoutes(mux)                                                          // shares.go: secure links
	a.legRoutes(mux)                                                            // legs.go: call legs of contact centres
	a.cdrRoutes(mux)                                                            // cdr.go: call detail records
	a.webhookRoutes(mux)                                                        // webhooks.go
	a.pauseRoutes(mux)                                                          // pause.go: secure pause
	return mux
}

// httpError is an error with a status and a message safe to show a client.
type httpError struct {
	code int
	msg  string
	page string // what a person's browser shows instead of msg; "" means msg
}

func (e *httpError) Error() string { return fmt.Sprintf("%d %s", e.code, e.msg) }

func errStatus(code int, msg string) error { return &httpError{code: code, msg: msg} }

type appFunc func(w http.ResponseWriter, r *http.Request, u *archive.User) error

// wrap authenticates the caller and maps a handler's error to a status; the
// detail goes to the log, never to the client.
func (a *API) wrap(h appFunc) http.Handler { return a.wrapRoles(h, false) }

// wrapIntegration is wrap for the routes an integration account may use
// (call detail records); wrap refuses such accounts.
func (a *API) wrapIntegration(h appFunc) http.Handler { return a.wrapRoles(h, true) }

func (a *API) wrapRoles(h appFunc, integration bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, err := a.authenticate(r)
		if err == nil && u.Role == archive.RoleIntegration && !integration {
			u, err = nil, errStatus(http.StatusForbidden, "integration accounts may only send call details")
		}
		if err == nil {
			// Under 4-eyes access, the response ends with the grant.
			var release func()
			w, r, release, _ = a.fourEyes.Bind(w, r, u)
			defer release()
			err = h(w, r, u)
		}
		if err == nil {
			return
		}
		var he *httpError
		var le *archive.LimitedError
		var se *share.Error
		switch {
		case errors.As(err, &he):
		case errors.As(err, &se):
			he = &httpError{code: se.Status, msg: se.Msg}
			if he.code < 400 || he.code > 599 {
				he.code = http.StatusBadRequest
			}
		case errors.As(err, &le):
			w.Header().Set("Retry-After", strconv.Itoa(le.RetrySeconds()))
			he = &httpError{code: http.StatusTooManyRequests, msg: "too many failed attempts; retry later"}
		case errors.Is(err, archive.ErrNotFound):
			he = &httpError{code: http.StatusNotFound, msg: "not found"}
		case errors.Is(err, archive.ErrBadCredentials):
			he = &httpError{code: http.StatusUnauthorized, msg: "authentication required"}
		default:
			a.log.ErrorContext(r.Context(), "api request failed", "method", r.Method, "path", r.URL.Path, "err", err)
			he = &httpError{code: http.StatusInternalServerError, msg: "internal error"}
		}
		if he.code == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Basic realm="callvault", charset="UTF-8"`)
			w.Header().Add("WWW-Authenticate", `Bearer realm="callvault"`)
		}
		if wantsPage(r) {
			writeErrorPage(w, he)
			return
		}
		writeJSON(w, he.code, map[string]string{"error": he.msg})
	})
}

func (a *API) authenticate(r *http.Request) (*archive.User, error) {
	if r.Header.Get("Authorization") == "" {
		if u, ok, err := websession.Auth(a.arc, r); ok { // the web UI's session cookie
			if err != nil {
				return nil, errStatus(http.StatusUnauthorized, "authentication required")
			}
			return u, nil
		}
	}
	var u *archive.User
	if scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
		var err error
		if u, err = a.arc.AuthenticateToken(r.Context(), archive.ClientAddr(r.RemoteAddr), strings.TrimSpace(tok)); err != nil {
			if !errors.Is(err, archive.ErrBadCredentials) {
				return nil, err
			}
			a.log.InfoContext(r.Context(), "api token refused", "remote", r.RemoteAddr)
			return nil, errStatus(http.StatusUnauthorized, "authentication required")
		}
	} else {
		login, pass, ok := r.BasicAuth()
		if !ok {
			return nil, errStatus(http.StatusUnauthorized, "authentication required")
		}
		var err error
		if u, err = a.arc.Authenticate(r.Context(), archive.ClientAddr(r.RemoteAddr), login, pass); err != nil {
			if !errors.Is(err, archive.ErrBadCredentials) {
				return nil, err // *archive.LimitedError: 429 with Retry-After
			}
			a.log.InfoContext(r.Context(), "api login failed", "login", login, "remote", r.RemoteAddr)
			return nil, errStatus(http.StatusUnauthorized, "authentication required")
		}
	}
	if u.Role == archive.RoleIngest {
		return nil, errStatus(http.StatusForbidden, "ingest accounts cannot read recordings")
	}
	return u, nil
}

// recording loads {id} and checks the caller's right to it. A recording the
// caller may not see is reported as not found, like one that does not exist.
func (a *API) recording(r *http.Request, u *archive.User) (*archive.Recording, error) {
	if err := a.fourEyesHeld(u); err != nil {
		return nil, err
	}
	id, err := archive.ParseID(r.PathValue("id"))
	if err != nil {
		return nil, errStatus(http.StatusNotFound, "not found")
	}
	rec, err := a.arc.Get(r.Context(), id)
	if err != nil {
		return nil, err
	}
	if !a.fourEyes.MayRead(u, rec) {
		return nil, errStatus(http.StatusNotFound, "not found")
	}
	return rec, nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

const (
	defaultLimit = 50
	maxLimit     = 1000
)

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("bad time %q: use RFC 3339 or YYYY-MM-DD", s)
}

// pageQuery reads the from, to and limit parameters of a paged list.
func pageQuery(q url.Values) (from, to time.Time, limit int, err error) {
	if from, err = parseTime(q.Get("from")); err != nil {
		return from, to, 0, errStatus(http.StatusBadRequest, err.Error())
	}
	if to, err = parseTime(q.Get("to")); err != nil {
		return from, to, 0, errStatus(http.StatusBadRequest, err.Error())
	}
	limit = defaultLimit
	if s := q.Get("limit"); s != "" {
		limit, err = strconv.Atoi(s)
		if err != nil || limit < 1 || limit > maxLimit {
			return from, to, 0, errStatus(http.StatusBadRequest, fmt.Sprintf("limit must be 1..%d", maxLimit))
		}
	}
	return from, to, limit, nil
}

func (a *API) recordingList(w http.ResponseWriter, r *http.Request, u *archive.User) error {
	q := r.URL.Query()
	from, to, limit, err := pageQuery(q)
	if err != nil {
		return err
	}
	raw := strings.TrimSpace(q.Get("q"))
	text := strings.ToLower(raw)
	if len(text) > 200 {
		return errStatus(http.StatusBadRequest, "q too long")
	}
	if err := a.fourEyesHeld(u); err != nil {
		return err
	}
	match := func(rec *archive.Recording) bool {
		if !a.fourEyes.MayRead(u, rec) {
			return false
		}
		return text == "" || webcore.Matches(rec, text)
	}
	// Text lets the archive's search index find the candidates; match
	// still decides.
	recs, next, err := a.arc.ListFor(r.Context(), u, archive.Query{From: from, To: to, Limit: limit, Cursor: q.Get("cursor"), Match: match, Text: webcore.SearchText(raw)})
	if err != nil {
		if errors.Is(err, archive.ErrInvalid) {
			return errStatus(http.StatusBadRequest, "bad cursor")
		}
		return err
	}
	out := struct {
		Recordings []recordingSummary `json:"recordings"`
		Next       string             `json:"next,omitempty"`
	}{Recordings: make([]recordingSummary, 0, len(recs)), Next: next}
	pol := a.policy(r.Context())
	for _, rec := range recs {
		out.Recordings = append(out.Recordings, withDeletion(summarize(rec), pol, rec))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) recordingShow(w http.ResponseWriter, r *http.Request, u *archive.User) error {
	rec, err := a.recording(r, u)
	if err != nil {
		return err
	}
	d := detail(rec)
	d.DeletionDate = webcore.DeletionDate(a.policy(r.Context()), rec)
	if d.SealCheck, err = sealCheck(r.Context(), a.arc, rec.ID); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

// wavOptions reads ?channels=stereo|mono&swap=1.
func wavOptions(r *http.Request) (codec.WAVOptions, error) {
	var opt codec.WAVOptions
	switch r.URL.Query().Get("channels") {
	case "", "stereo":
	case "mono":
		opt.Mono = true
	default:
		return opt, errStatus(http.StatusBadRequest, "channels must be stereo or mono")
	}
	switch r.URL.Query().Get("swap") {
	case "", "0", "false":
	case "1", "true":
		opt.Swap = true
	default:
		return opt, errStatus(http.StatusBadRequest, "swap must be true or false")
	}
	return opt, nil
}

// callParam reads the optional ?call= (from 1) as an index from 0.
func callParam(r *http.Request) (int, error) {
	s := r.URL.Query().Get("call")
	if s == "" {
		return 0, nil
	}
	call, err := strconv.Atoi(s)
	if err != nil || call < 1 {
		return 0, errStatus(http.StatusBadRequest, "call must be a number from 1")
	}
	return call - 1, nil
}

func (a *API) recordingAudio(w http.ResponseWriter, r *http.Request, u *archive.User) error {
	rec, err := a.recording(r, u)
	if err != nil {
		return err
	}
	opt, err := wavOptions(r)
	if err != nil {
		return err
	}
	call, err := callParam(r)
	if err != nil {
		return err
	}
	if err := audible(rec); err != nil {
		return err
	}
	st, err := a.playCheck(r, u, rec, "audio")
	if err != nil {
		return err
	}
	wav, err := a.callWAV(r, rec, call, opt)
	if err != nil {
		return err
	}
	return a.serveWAV(w, r, u, rec.ID.String(), fmt.Sprintf("call %d", call+1), wav, rec.ID.String()+".wav", rec.Finished, st)
}

// callWAV renders call (from 0) of rec; a call the recording does not
// hold is a 404.
func (a *API) callWAV(r *http.Request, rec *archive.Recording, call int, opt codec.WAVOptions) (*codec.WAVReader, error) {
	wav, err := a.media.WAV(r.Context(), []*archive.Recording{rec}, call, opt)
	if err != nil && call > 0 {
		return nil, errStatus(http.StatusNotFound, "no such call in this recording")
	}
	return wav, err
}

// serveWAV serves audio of target and audits it as a play (playback.go)
// once its first piece has been read.
func (a *API) serveWAV(w http.ResponseWriter, r *http.Request, u *archive.User, target, detail string, wav *codec.WAVReader, name string, mod time.Time, st archive.SealStatus) error {
	w.Header().Set("Content-Type", "audio/wav")
	w.Header().Set("Content-Disposition", `inline; filename="`+name+`"`)
	w.Header().Set("Cache-Control", "private, no-store")
	w.Header().Set(sealHeader, string(st))
	return a.serveChecked(w, r, u, target, "audio", mod, wav, func() error { return a.auditPlay(r, u, target, detail) })
}

func (a *API) recordingOriginal(w http.ResponseWriter, r *http.Request, u *archive.User) error {
	rec, err := a.recording(r, u)
	if err != nil {
		return err
	}
	st, err := a.playCheck(r, u, rec, "original")
	if err != nil {
		return err
	}
	blob, err := a.arc.OpenBlob(r.Context(), rec.ID, archive.BlobOriginal)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/vnd.tcpdump.pcap")
	w.Header().Set("Content-Disposition", `attachment; filename="`+rec.ID.String()+`.pcap"`)
	w.Header().Set("Cache-Control", "private, no-store")
	w.Header().Set("ETag", `"`+hex.EncodeToString(rec.OrigSHA256[:])+`"`)
	w.Header().Set(sealHeader, string(st))
	// A client fetches an original in many ranges; only a fetch that may
	// carry its start is an "original.get" in the audit log.
	return a.serveChecked(w, r, u, rec.ID.String(), "original", rec.Finished, blob, func() error {
		if !byterange.ServesStart(r, rec.OrigSize) {
			return nil
		}
		return a.auditEvent(r.Context(), r, u, "original.get", rec.ID.String(), true, "")
	})
}

func (a *API) recordingVerify(w http.ResponseWriter, r *http.Request, u *archive.User) error {
	rec, err := a.recording(r, u)
	if err != nil {
		return err
	}
	res, err := a.arc.Verify(r.Context(), rec.ID, func(rec *archive.Recording) ([][32]byte, error) {
		return a.media.Exports(r.Context(), rec)
	})
	if err != nil {
		return err
	}
	if err := a.auditEvent(r.Context(), r, u, "verify", rec.ID.String(), res.Valid, verifyDetail(res)); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, recordingVerifyView(res))
	return nil
}

// callRecordings returns the segments of call {guid} the caller may see.
func (a *API) callRecordings(r *http.Request, u *archive.User) ([]*archive.Recording, error) {
	if err := a.fourEyesHeld(u); err != nil {
		return nil, err
	}
	guid := r.PathValue("guid")
	if guid == "" || len(guid) > 128 {
		return nil, errStatus(http.StatusNotFound, "not found")
	}
	recs, err := a.arc.ByCall(r.Context(), guid)
	if err != nil {
		return nil, err
	}
	var out []*archive.Recording
	for _, rec := range recs {
		if a.fourEyes.MayRead(u, rec) {
			out = append(out, rec)
		}
	}
	if len(out) == 0 {
		return nil, errStatus(http.StatusNotFound, "not found")
	}
	return out, nil
}

func (a *API) callShow(w http.ResponseWriter, r *http.Request, u *archive.User) error {
	recs, err := a.callRecordings(r, u)
	if err != nil {
		return err
	}
	out := struct {
		CallID   string             `json:"callId"`
		Segments []recordingSummary `json:"segments"`
	}{CallID: r.PathValue("guid")}
	for _, rec := range recs {
		out.Segments = append(out.Segments, summarize(rec))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) callAudio(w http.ResponseWriter, r *http.Request, u *archive.User) error {
	recs, err := a.callRecordings(r, u)
	if err != nil {
		return err
	}
	opt, err := wavOptions(r)
	if err != nil {
		return err
	}
	st, err := a.callPlayCheck(r, u, recs)
	if err != nil {
		return err
	}
	wav, err := a.media.WAV(r.Context(), recs, -1, opt)
	if err != nil {
		return err
	}
	return a.serveWAV(w, r, u, r.PathValue("guid"), fmt.Sprintf("call of %d segments", len(recs)), wav, "call.wav", recs[len(recs)-1].Finished, st)
}
