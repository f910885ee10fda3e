package ui

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/foureyes"
	"github.com/callvault/callvault/internal/webcore"
	"github.com/callvault/callvault/share"
	"github.com/callvault/callvault/webhook"
)

//go:embed templates/*.html
var templateFS embed.FS

// Options configure the web UI.
type Options struct {
	// SessionTTL is how long a login lasts (default 12 hours).
	SessionTTL time.Duration
	// KeyFile is the archive key file the settings page rotates; empty
	// when the archive is unlocked with a passphrase.
	KeyFile string
	// Version is shown in the page footer.
	Version string
	// Now returns the current time (default: the archive's clock, arc.Now).
	Now func() time.Time
	// FourEyes is 4-eyes access, shared with the API and WebDAV; nil
	// leaves archive.MayRead alone to decide.
	FourEyes *foureyes.Access
	// Shares is the external store and the log of links (share.go); nil
	// leaves the pages of links out.
	Shares *share.Service
	// Webhooks are the webhooks (webhooks.go); nil leaves their pages out.
	Webhooks *webhook.Service
}

// UI serves the server-rendered web pages: login, recordings, the
// recording page with player and notes, account, and the admin pages
// (users, audit log, settings). Media (audio, peaks, zip) is served by the
// JSON API, which accepts the same session cookie.
type UI struct {
	arc    *archive.Archive
	media  webcore.Media
	opts   Options
	log    *slog.Logger
	pages  map[string]map[string]*template.Template // language → template name → page
	text   texts
	static *staticFiles
	cop    *http.CrossOriginProtection
	keyDL  keyDownload // keyrotate.go
	ingest ingestAddrs // onboarding.go
	party  partyMemo   // list_party.go
}

// New parses the embedded templates and assets and returns the UI over
// arc. Settings changes reach the rest of the appliance through
// archive.WatchSettings.
func New(arc *archive.Archive, media webcore.Media, opts Options, log *slog.Logger) (*UI, error) {
	if arc == nil || media == nil {
		return nil, errors.New("ui: archive and media are required")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.SessionTTL <= 0 {
		opts.SessionTTL = 12 * time.Hour
	}
	if opts.Now == nil {
		opts.Now = arc.Now
	}
	tx, err := loadTexts()
	if err != nil {
		return nil, err
	}
	pages := map[string]map[string]*template.Template{}
	for _, l := range uiLanguages {
		if pages[l], err = parseTemplates(textFuncs(tx, l)); err != nil {
			return nil, err
		}
	}
	st, err := loadStatic()
	if err != nil {
		return nil, err
	}
	if err := checkTexts(tx, pages[uiLanguages[0]], st.scripts()); err != nil {
		return nil, err
	}
	u := &UI{
		arc: arc, media: media, opts: opts, log: log, pages: pages, text: tx, static: st,
		cop: http.NewCrossOriginProtection(),
	}
	u.cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := &reqCtx{loc: time.UTC, lang: requestLanguage(r, nil)}
		u.renderError(w, r, rc, &pageError{code: http.StatusForbidden, msg: "msg.crossSite"})
	}))
	return u, nil
}

// parseTemplates parses layout.html with each page into its own set, so
// every page can define "content" and "title"; text holds the functions
// of one language (textFuncs).
func parseTemplates(text template.FuncMap) (map[string]*template.Template, error) {
	base, err := template.New("").Funcs(funcs).Funcs(text).ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("ui: templates: %w", err)
	}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		name := path.Base(n)
		if name == "layout.html" {
			continue
		}
		t, err := base.Clone()
		if err != nil {
			return nil, err
		}
		if _, err := t.ParseFS(templateFS, n); err != nil {
			return nil, fmt.Errorf("ui: template %s: %w", name, err)
		}
		if t.Lookup("content") == nil {
			return nil, fmt.Errorf("ui: template %s defines no content", name)
		}
		pages[name] = t
	}
	return pages, nil
}

var funcs = template.FuncMap{
	"join": strings.Join,
	"inc":  func(i int) int { return i + 1 },
}

// Base is what every page's view model holds: the layout's data.
type Base struct {
	Lang    string // the page's language, one of uiLanguages
	Title   string
	PBXName string
	User    *userView // nil when nobody is logged in
	CSS, JS string    // content-hashed asset URLs
	Icon    string    // the favicon's content-hashed URL
	Nav     string    // the active navigation item
	Flash   string    // a short confirmation
	Error   string    // a short error message
	Version string
	// FourEyes links the page to 4-eyes access (foureyes_http.go); nil
	// when it does not concern the viewer.
	FourEyes *fourEyesBase
	// ScriptText are the scripts' texts in the page's language.
	ScriptText map[string]string
}

type userView struct {
	Login, Name string
	Role        string
	Admin       bool
	// External: the External access page is for this user; Outbox: the
	// page of queued mail (admins).
	External, Outbox bool
	// Webhooks: the webhooks' page (admins, when webhooks are available).
	Webhooks bool
}

// Routes returns the UI's handler, to be mounted at "/". Every state change
// goes through cross-origin protection; every response carries a strict
// Content-Security-Policy and the other security headers.
func (u *UI) Routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /static/{hash}/{name}", u.serveStatic)
	mux.HandleFunc("GET /favicon.ico", u.serveFavicon)
	mux.Handle("GET /login", u.page(anyone, u.loginForm))
	mux.Handle("POST /login", u.page(anyone, u.loginSubmit))
	mux.Handle("POST /logout", u.page(anyone, u.logout))
	mux.Handle("GET /{$}", u.page(member, u.held(u.recordingList)))
	mux.Handle("GET /recordings/{id}", u.page(member, u.held(u.recordingShow)))
	mux.Handle("POST /recordings/{id}/verify", u.page(member, u.held(u.recordingVerify)))
	mux.Handle("POST /recordings/{id}/notes", u.page(member, u.noteAdd))
	mux.Handle("POST /recordings/{id}/notes/{note}", u.page(member, u.noteEdit))
	mux.Handle("POST /recordings/{id}/notes/{note}/delete", u.page(member, u.noteDelete))
	u.lifecycleRoutes(mux) // lifecycle.go: legal hold, delete, recycle bin
	mux.Handle("GET /account", u.page(member, u.accountShow))
	mux.Handle("POST /account/password", u.page(member, u.accountPassword))
	mux.Handle("POST /account/language", u.page(member, u.accountLanguage))
	mux.Handle("POST /account/tokens", u.page(member, u.accountTokenCreate))
	mux.Handle("POST /account/tokens/{token}/revoke", u.page(member, u.accountTokenRevoke))
	mux.Handle("GET /admin/audit", u.page(admin, u.auditList))
	mux.Handle("GET /admin/audit.csv", u.page(admin, u.auditCSV))
	mux.Handle("GET /admin/users", u.page(admin, u.userList))
	mux.Handle("GET /admin/users/new", u.page(admin, u.userNew))
	mux.Handle("POST /admin/users", u.page(admin, u.userCreate))
	mux.Handle("GET /admin/users/{login}", u.page(admin, u.userEdit))
	mux.Handle("POST /admin/users/{login}", u.page(admin, u.userUpdate))
	mux.Handle("POST /admin/users/{login}/delete", u.page(admin, u.userDelete))
	mux.Handle("POST /admin/users/{login}/tokens", u.page(admin, u.userTokenCreate))
	mux.Handle("POST /admin/users/{login}/tokens/{token}/revoke", u.page(admin, u.userTokenRevoke))
	mux.Handle("GET /admin/settings", u.page(admin, u.settingsShow))
	mux.Handle("POST /admin/settings", u.page(admin, u.settingsUpdate))
	mux.Handle("POST /admin/settings/ingest", u.page(admin, u.settingsIngest))
	mux.Handle("POST /admin/settings/key", u.page(admin, u.settingsKey))
	mux.Handle("POST /admin/settings/key/download", u.page(admin, u.settingsKeyDownload))
	u.fourEyesRoutes(mux) // foureyes_http.go
	u.shareRoutes(mux)    // share.go: secure links
	u.webhookRoutes(mux)  // webhooks.go
	u.listRoutes(mux)     // list_csv.go: the list's export and bulk actions
	mux.Handle("/", u.page(anyone, func(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
		return &pageError{code: http.StatusNotFound, msg: "msg.noSuchPage"}
	}))
	return u.cop.Handler(securityHeaders(mux))
}

// contentSecurityPolicy allows only the appliance's own scripts, styles,
// media and connections: no inline code, no framing.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"media-src 'self'; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; " +
	"form-action 'self'; frame-ancestors 'none'"

// securityHeaders sets the headers every UI response carries.
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", contentSecurityPolicy)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("Cross-Origin-Opener-Policy", "same-origin")
		hd.Set("Cross-Origin-Resource-Policy", "same-origin")
		hd.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
		if r.TLS != nil {
			hd.Set("Strict-Transport-Security", "max-age=31536000")
		}
		h.ServeHTTP(w, r)
	})
}

// access says who may reach a page.
type access int

const (
	anyone access = iota // also anonymous
	member               // any logged-in person
	admin                // admins only
)

// reqCtx is what a page handler knows about its request.
type reqCtx struct {
	user     *archive.User // nil when anonymous
	token    string        // the session token, when logged in
	session  string        // the session's ID, when logged in
	settings archive.Settings
	loc      *time.Location
	lang     string // the page's language (i18n.go)
}

type pageFunc func(w http.ResponseWriter, r *http.Request, rc *reqCtx) error

// pageError is an error with a status and a message safe to show: msg
// is a key of text.json, formatted over args; or text, already in the
// request's language.
type pageError struct {
	code int
	msg  string
	args []any
	text string
}

// message is the error's message in rc's language.
func (e *pageError) message(rc *reqCtx) string {
	if e.text != "" {
		return e.text
	}
	return rc.T(e.msg, e.args...)
}

func (e *pageError) Error() string { return fmt.Sprintf("%d %s%s", e.code, e.msg, e.text) }

// maxFormBytes bounds every form body.
const maxFormBytes = 64 << 10

// page wraps a page handler: it identifies the session, enforces acc,
// bounds and parses form bodies, and renders errors.
func (u *UI) page(acc access, h pageFunc) http.Handler { return u.pageForm(acc, false, h) }

// pageForm is page; with multipart, a POST may also be a multipart form
// of at most maxMultipartBytes (uploads).
func (u *UI) pageForm(acc access, multipart bool, h pageFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		rc := &reqCtx{loc: time.UTC}
		settings, err := u.arc.Settings(r.Context())
		if err != nil {
			u.log.ErrorContext(r.Context(), "ui: settings", "err", err)
		}
		rc.settings = settings
		if settings.TimeZone != "" {
			if loc, err := time.LoadLocation(settings.TimeZone); err == nil {
				rc.loc = loc
			}
		}
		u.identify(r, rc)
		rc.lang = requestLanguage(r, rc.user)
		w.Header().Set("Content-Language", rc.lang)
		w.Header().Add("Vary", "Accept-Language")
		u.tracePage(r, rc)
		switch {
		case acc >= member && rc.user == nil:
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/login?next="+urlQueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			u.renderError(w, r, rc, &pageError{code: http.StatusUnauthorized, msg: "msg.logIn"})
			return
		case acc == admin && rc.user.Role != archive.RoleAdmin:
			u.renderError(w, r, rc, &pageError{code: http.StatusForbidden, msg: "msg.adminsOnly"})
			return
		}
		if r.Method == http.MethodPost && multipart && strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
			r.Body = http.MaxBytesReader(w, r.Body, maxMultipartBytes)
			if err := r.ParseMultipartForm(maxMultipartBytes); err != nil {
				u.renderError(w, r, rc, formReadError(err))
				return
			}
			defer r.MultipartForm.RemoveAll()
		} else if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
			ct := r.Header.Get("Content-Type")
			if ct != "" && !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
				u.renderError(w, r, rc, &pageError{code: http.StatusUnsupportedMediaType, msg: "msg.formEncoding"})
				return
			}
			if err := r.ParseForm(); err != nil {
				u.renderError(w, r, rc, formReadError(err))
				return
			}
		}
		if err := h(w, r, rc); err != nil {
			u.renderError(w, r, rc, err)
		}
	})
}

// language is the page's language, for render.
func (b Base) language() string { return b.Lang }

// base fills the layout's data for a page.
func (u *UI) base(rc *reqCtx, title, nav string) Base {
	b := Base{Lang: rc.language(), Title: title, Nav: nav, CSS: u.static.url("app.css"), JS: u.static.url("app.js"), Icon: u.static.url("favicon.svg"), Version: u.opts.Version}
	b.ScriptText = u.text.scriptTexts(b.Lang)
	if rc != nil {
		b.PBXName = rc.settings.PBXName
		if rc.user != nil {
			name := rc.user.Name
			if name == "" {
				name = rc.user.Login
			}
			b.User = &userView{Login: rc.user.Login, Name: name, Role: string(rc.user.Role), Admin: rc.user.Role == archive.RoleAdmin}
			if u.opts.Shares != nil {
				b.User.External = mayExternal(rc.user)
				b.User.Outbox = b.User.Admin
			}
			b.User.Webhooks = b.User.Admin && u.opts.Webhooks != nil
			b.FourEyes = u.fourEyesBase(rc.user)
		}
	}
	return b
}

// render executes page name with v into a buffer and writes it.
func (u *UI) render(w http.ResponseWriter, r *http.Request, code int, name string, v any) {
	lang := uiLanguages[0]
	if b, ok := v.(interface{ language() string }); ok {
		lang = b.language()
	}
	t, ok := u.pages[lang][name]
	if !ok {
		u.log.ErrorContext(r.Context(), "ui: no such template", "template", name)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		u.log.ErrorContext(r.Context(), "ui: render", "template", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	_, _ = buf.WriteTo(w)
}

// formReadError is the page error for a form that could not be parsed:
// too large, or malformed.
func formReadError(err error) *pageError {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return &pageError{code: http.StatusRequestEntityTooLarge, msg: "msg.formTooLarge"}
	}
	return &pageError{code: http.StatusBadRequest, msg: "msg.formUnreadable"}
}

type errorPage struct {
	Base
	Code    int
	Message string
}

// renderError maps err to a status and a safe message; the detail goes to
// the log only.
func (u *UI) renderError(w http.ResponseWriter, r *http.Request, rc *reqCtx, err error) {
	var pe *pageError
	var se *share.Error
	switch {
	case errors.As(err, &pe):
	case errors.As(err, &se):
		pe = &pageError{code: se.Status, text: shareErrorText(rc, se)}
	case errors.Is(err, archive.ErrNotFound):
		pe = &pageError{code: http.StatusNotFound, msg: "msg.notFound"}
	case errors.Is(err, context.Canceled):
		return
	default:
		u.log.ErrorContext(r.Context(), "ui request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		pe = &pageError{code: http.StatusInternalServerError, msg: "msg.internal"}
	}
	u.render(w, r, pe.code, "error.html", errorPage{Base: u.base(rc, statusTitle(rc, pe.code), ""), Code: pe.code, Message: pe.message(rc)})
}

// redirect answers a POST with 303 See Other to a local path.
func redirect(w http.ResponseWriter, r *http.Request, to string) {
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// remoteAddr is the client's address without its port, as the audit log
// records it.
func remoteAddr(r *http.Request) string { return archive.AddrHost(r.RemoteAddr) }

// audit records an event; a failure to record is logged, not shown.
func (u *UI) audit(r *http.Request, rc *reqCtx, action, target string, ok bool, detail string) {
	actor := ""
	if rc != nil && rc.user != nil {
		actor = rc.user.Login
	}
	u.auditAs(r, actor, action, target, ok, detail)
}

func (u *UI) auditAs(r *http.Request, actor, action, target string, ok bool, detail string) {
	err := u.arc.Audit(r.Context(), archive.AuditEvent{
		Actor: actor, Action: action, Target: target, Remote: remoteAddr(r), OK: ok, Detail: detail,
	})
	if err != nil {
		u.log.ErrorContext(r.Context(), "ui: audit", "action", action, "err", err)
	}
}

// levelTrace is the daemon's trace level (below debug): per-request
// detail for troubleshooting.
const levelTrace = slog.LevelDebug - 4

// tracePage logs a page request at trace level: method, path (never the
// query, which may carry a link's token) and who asked.
func (u *UI) tracePage(r *http.Request, rc *reqCtx) {
	if !u.log.Enabled(r.Context(), levelTrace) {
		return
	}
	who := ""
	if rc.user != nil {
		who = rc.user.Login
	}
	u.log.Log(r.Context(), levelTrace, "page", "method", r.Method, "path", r.URL.Path, "user", who)
}
