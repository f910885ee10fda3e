package webdav

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	dav "github.com/emersion/go-webdav"

	"github.com/callvault/callvault/archive"
)

// Options configure the WebDAV tree.
type Options struct {
	// Prefix is the URL path the tree is served under, starting and
	// ending with '/'; default "/webdav/".
	Prefix string
	// CacheTTL is how long a collection's listing is reused for the same
	// user (clients list a collection several times in a row); default
	// 5s, negative disables the cache. New recordings and changed access
	// rights show in listings after at most this long; a file's GET, HEAD
	// and PROPFIND check access afresh.
	CacheTTL time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Gate, when set, is asked after authentication whether u may read
	// recordings now on top of archive.MayRead (4-eyes access: a user
	// whose supervisor has not granted access reads nothing). ok false is
	// answered 403; otherwise the request is served with the returned
	// writer and request (which end when u's access ends, stopping a
	// download in flight), and release is called when it is done.
	// foureyes.Access.Bind is such a gate.
	Gate func(w http.ResponseWriter, r *http.Request, u *archive.User) (_ http.ResponseWriter, _ *http.Request, release func(), ok bool)
}

// DefaultPrefix is where the tree is served when Options.Prefix is empty.
const DefaultPrefix = "/webdav/"

// Validate reports options that cannot work.
func (o *Options) Validate() error {
	if o.Prefix != "" && (!strings.HasPrefix(o.Prefix, "/") || !strings.HasSuffix(o.Prefix, "/") || o.Prefix == "/") {
		return fmt.Errorf("webdav: prefix %q must start and end with / and not be /", o.Prefix)
	}
	return nil
}

// Handler serves the read-only WebDAV tree of originals.
type Handler struct {
	arc    *archive.Archive
	log    *slog.Logger
	prefix string
	ttl    time.Duration
	now    func() time.Time
	dav    *dav.Handler
	cache  listCache
	gate   func(http.ResponseWriter, *http.Request, *archive.User) (http.ResponseWriter, *http.Request, func(), bool)
}

// New returns the WebDAV handler over arc, to be mounted at opts.Prefix
// (and at the prefix without its trailing slash). Options that fail
// Validate are logged and replaced by the defaults.
func New(arc *archive.Archive, opts Options, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := opts.Validate(); err != nil {
		log.Error("webdav: bad options, using the defaults", "err", err)
		opts = Options{}
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if opts.CacheTTL == 0 {
		opts.CacheTTL = 5 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	h := &Handler{
		arc: arc, log: log, prefix: opts.Prefix, ttl: max(opts.CacheTTL, 0), now: opts.Now,
		cache: listCache{m: map[string]*listing{}}, gate: opts.Gate,
	}
	h.dav = &dav.Handler{FileSystem: &fileSystem{h}}
	return h
}

// Prefix returns the URL path the handler serves.
func (h *Handler) Prefix() string { return h.prefix }

const (
	realm      = `Basic realm="callvault WebDAV", charset="UTF-8"`
	allow      = "OPTIONS, GET, HEAD, PROPFIND"
	maxPropXML = 1 << 20 // PROPFIND bodies are a few hundred bytes
)

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if r.Method == http.MethodOptions {
		h.options(w)
		return
	}
	u, ok := h.authenticate(w, r)
	if !ok {
		return
	}
	if h.gate != nil {
		var release func()
		if w, r, release, ok = h.gate(w, r, u); !ok {
			plain(w, http.StatusForbidden, "4-eyes access: your supervisor has not granted access to recordings, or the grant ended")
			return
		}
		defer release()
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, "PROPFIND":
	case http.MethodPut, http.MethodDelete, http.MethodPost, http.MethodPatch, "MKCOL", "COPY", "MOVE", "PROPPATCH":
		h.refuseWrite(w, r, u)
		return
	default: // LOCK, UNLOCK and anything else: not offered
		w.Header().Set("Allow", allow)
		plain(w, http.StatusMethodNotAllowed, "method not allowed: the archive is read-only and offers no locks")
		return
	}
	ri := &reqInfo{user: u, method: r.Method, remote: remoteHost(r), rng: r.Header.Get("Range")}
	r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, ri))
	if r.Method == "PROPFIND" {
		switch d := strings.ToLower(strings.TrimSpace(r.Header.Get("Depth"))); d {
		case "0", "1":
		case "", "infinity":
			finiteDepth(w)
			return
		default:
			plain(w, http.StatusBadRequest, "bad Depth header: use 0 or 1")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxPropXML)
	}
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		if n, ok := parsePath(h.prefix, r.URL.Path); ok && n.isDir() {
			h.serveIndex(w, r, u, n)
			return
		}
	}
	h.dav.ServeHTTP(w, r)
	if ri.readError() != nil {
		// A file's body failed part way, after its status and length
		// were sent: reset the connection, so the client sees a failed
		// transfer rather than a short file.
		panic(http.ErrAbortHandler)
	}
}

// options answers OPTIONS without credentials, as clients probe first:
// WebDAV class 1 (and 3, RFC 4918), no class 2 since there are no locks,
// so clients mount the tree read-only.
func (h *Handler) options(w http.ResponseWriter) {
	w.Header().Set("DAV", "1, 3")
	w.Header().Set("MS-Author-Via", "DAV")
	w.Header().Set("Allow", allow)
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
}

// authenticate checks HTTP Basic credentials (the WebDAV password when the
// user has one, else the account password) and refuses ingest accounts.
func (h *Handler) authenticate(w http.ResponseWriter, r *http.Request) (*archive.User, bool) {
	login, pass, ok := r.BasicAuth()
	if !ok {
		w.Header().Set("WWW-Authenticate", realm)
		plain(w, http.StatusUnauthorized, "authentication required")
		return nil, false
	}
	ctx := r.Context()
	u, err := h.arc.AuthenticateWebDAV(ctx, archive.ClientAddr(r.RemoteAddr), login, pass)
	var le *archive.LimitedError
	switch {
	case errors.As(err, &le):
		if le.First { // one record per waiting period, not one per refused request
			if err := h.arc.Audit(ctx, archive.AuditEvent{
				Actor: login, Action: "webdav.login", Remote: remoteHost(r), OK: false, Detail: "rate limited",
			}); err != nil {
				h.log.ErrorContext(ctx, "webdav: audit refused login", "err", err)
			}
		}
		w.Header().Set("Retry-After", strconv.Itoa(le.RetrySeconds()))
		plain(w, http.StatusTooManyRequests, "too many failed attempts; retry later")
		return nil, false
	case errors.Is(err, archive.ErrBadCredentials):
		h.log.InfoContext(ctx, "webdav login failed", "login", login, "remote", remoteHost(r))
		if err := h.arc.Audit(ctx, archive.AuditEvent{
			Actor: login, Action: "webdav.login", Remote: remoteHost(r), OK: false, Detail: "bad credentials",
		}); err != nil {
			h.log.ErrorContext(ctx, "webdav: audit failed login", "err", err)
		}
		w.Header().Set("WWW-Authenticate", realm)
		plain(w, http.StatusUnauthorized, "bad credentials")
		return nil, false
	case err != nil:
		if ctx.Err() == nil {
			h.log.ErrorContext(ctx, "webdav authentication failed", "err", err)
		}
		plain(w, http.StatusInternalServerError, "internal error")
		return nil, false
	case u.Role == archive.RoleIngest:
		plain(w, http.StatusForbidden, "ingest accounts upload recordings; they cannot read them")
		return nil, false
	case u.Role == archive.RoleIntegration:
		plain(w, http.StatusForbidden, "integration accounts send call details; they cannot read recordings")
		return nil, false
	}
	return u, true
}

// finiteDepth refuses a PROPFIND of infinite depth (RFC 4918 9.1).
func finiteDepth(w http.ResponseWriter) {
	w.Header().Set("Content-Type", `application/xml; charset="utf-8"`)
	w.WriteHeader(http.StatusForbidden)
	fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+
		`<D:error xmlns:D="DAV:"><D:propfind-finite-depth/>`+
		`<D:responsedescription>Depth: infinity is not supported; list one collection at a time with Depth: 1</D:responsedescription>`+
		`</D:error>`+"\n")
}

func plain(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	fmt.Fprintln(w, msg)
}

func remoteHost(r *http.Request) string { return archive.AddrHost(r.RemoteAddr) }

const readOnly = "read-only archive: recordings cannot be written, moved or deleted over WebDAV"

// refuseWrite answers a method that would change the tree. The archive is
// read-only, so the answer is 403, except where RFC 4918 names a more
// precise status that holds whatever the server allowed: 404 for changing
// or copying what does not exist, 405 for MKCOL of an existing resource
// or PUT onto a collection, 415 for MKCOL with a body (none is
// understood), 409 for creating inside a missing collection.
func (h *Handler) refuseWrite(w http.ResponseWriter, r *http.Request, u *archive.User) {
	ctx := r.Context()
	n, ok := parsePath(h.prefix, r.URL.Path)
	exists, parent := false, false
	var err error
	if ok && n.isDir() {
		exists, err = h.exists(ctx, u, n)
	} else if ok {
		_, lerr := h.lookup(ctx, u, n)
		exists = lerr == nil
	}
	// The parent by the path's text: a new name need not parse as a node.
	if dir := path.Dir(strings.TrimSuffix(r.URL.Path, "/")) + "/"; err == nil && strings.HasPrefix(dir, h.prefix) {
		if pn, ok := parsePath(h.prefix, dir); ok {
			parent, err = h.exists(ctx, u, pn)
		}
	}
	if err != nil {
		_ = h.fail(ctx, "write check", err)
		plain(w, http.StatusInternalServerError, "internal error")
		return
	}
	switch r.Method {
	case "MKCOL":
		switch {
		case exists:
			w.Header().Set("Allow", allow)
			plain(w, http.StatusMethodNotAllowed, "the collection exists; "+readOnly)
			return
		case r.ContentLength != 0 || r.Header.Get("Content-Type") != "":
			plain(w, http.StatusUnsupportedMediaType, "MKCOL with a body is not supported; "+readOnly)
			return
		case !parent:
			plain(w, http.StatusConflict, "the parent collection does not exist; "+readOnly)
			return
		}
	case http.MethodDelete, "PROPPATCH", "COPY", "MOVE":
		if !exists {
			plain(w, http.StatusNotFound, "not found")
			return
		}
	case http.MethodPut, http.MethodPost, http.MethodPatch:
		switch {
		case exists && n.isDir():
			w.Header().Set("Allow", allow)
			plain(w, http.StatusMethodNotAllowed, "a collection cannot be written; "+readOnly)
			return
		case !exists && !parent:
			plain(w, http.StatusConflict, "the parent collection does not exist; "+readOnly)
			return
		}
	}
	plain(w, http.StatusForbidden, readOnly)
}
