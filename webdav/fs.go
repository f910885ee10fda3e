package webdav

import (
	"cmp"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	dav "github.com/emersion/go-webdav"

	"github.com/callvault/callvault/archive"
)

// Content types of originals.
const (
	typePcap   = "application/vnd.tcpdump.pcap"
	typePcapng = "application/x-pcapng"
)

// listPage is the List page size while listing a day.
const listPage = 1000

// maxEntries bounds one collection's listing.
const maxEntries = 200000

// entry is one member of a collection. Files carry what PROPFIND shows and
// what GET needs; nothing else of the recording is kept.
type entry struct {
	name  string
	dir   bool
	id    archive.ID
	size  int64
	mtime time.Time
	etag  string // hex sha256 of the original
	ctype string
}

// listing is a collection's members, sorted by name.
type listing struct {
	entries []entry
	expires time.Time
}

func (l *listing) find(name string) (entry, bool) {
	i, ok := slices.BinarySearchFunc(l.entries, name, func(e entry, n string) int { return strings.Compare(e.name, n) })
	if !ok {
		return entry{}, false
	}
	return l.entries[i], true
}

// listCache keeps collection listings per user for a short time: clients
// ask for the same collection several times in a row (PROPFIND, then
// PROPFIND of each member, then GET), and a listing costs decryptions.
type listCache struct {
	mu       sync.Mutex
	m        map[string]*listing
	accounts []archive.User
	accExp   time.Time
}

const maxCached = 1024

func (c *listCache) get(key string, now time.Time) *listing {
	c.mu.Lock()
	defer c.mu.Unlock()
	if l, ok := c.m[key]; ok && now.Before(l.expires) {
		return l
	}
	return nil
}

func (c *listCache) put(key string, l *listing, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxCached {
		for k, v := range c.m {
			if !now.Before(v.expires) {
				delete(c.m, k)
			}
		}
		if len(c.m) >= maxCached {
			clear(c.m)
		}
	}
	c.m[key] = l
}

// reqInfo is what the FileSystem needs to know about the request it
// serves; the Handler puts it into the request's context.
type reqInfo struct {
	user   *archive.User
	method string
	remote string
	rng    string
	// failed is the first error reading a file's body (readFailed).
	mu     sync.Mutex
	failed error
	// memo holds the listings computed for this request, so one request
	// never lists a collection twice, cache or not (go-webdav calls Stat,
	// then ReadDir or Open, from the request's goroutine).
	memo map[string]*listing
	// readable holds the recordings lookup found u may read in this
	// request (Handler.readable).
	readable map[archive.ID]bool
}

type ctxKey struct{}

// readFailed records err as the request's body failure and reports
// whether it is the first.
func (ri *reqInfo) readFailed(err error) bool {
	ri.mu.Lock()
	defer ri.mu.Unlock()
	if ri.failed != nil {
		return false
	}
	ri.failed = err
	return true
}

func (ri *reqInfo) readError() error {
	ri.mu.Lock()
	defer ri.mu.Unlock()
	return ri.failed
}

func infoFrom(ctx context.Context) *reqInfo {
	ri, _ := ctx.Value(ctxKey{}).(*reqInfo)
	return ri
}

// fileSystem is the read-only go-webdav FileSystem over the archive. It
// receives full request paths (go-webdav has no notion of a mount point)
// and strips the prefix itself; the paths it returns carry the prefix.
type fileSystem struct{ h *Handler }

var _ dav.FileSystem = (*fileSystem)(nil)

var (
	errNotFound = dav.NewHTTPError(http.StatusNotFound, errors.New("not found"))
	errReadOnly = dav.NewHTTPError(http.StatusForbidden, errors.New("read-only archive: recordings cannot be written, moved or deleted over WebDAV"))
	errInternal = dav.NewHTTPError(http.StatusInternalServerError, errors.New("internal error"))
	errNoUser   = dav.NewHTTPError(http.StatusUnauthorized, errors.New("authentication required"))
	errInfinity = dav.NewHTTPError(http.StatusForbidden, errors.New("depth infinity is not supported: use Depth 0 or 1"))
)

// fail maps an error from the archive to one that is safe to show a
// client; the detail goes to the log.
func (h *Handler) fail(ctx context.Context, op string, err error) error {
	switch {
	case errors.Is(err, archive.ErrNotFound):
		return errNotFound
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return dav.NewHTTPError(http.StatusServiceUnavailable, errors.New("request cancelled"))
	}
	h.log.ErrorContext(ctx, "webdav request failed", "op", op, "err", err)
	return errInternal
}

func (fs *fileSystem) Stat(ctx context.Context, name string) (*dav.FileInfo, error) {
	h := fs.h
	ri := infoFrom(ctx)
	if ri == nil {
		return nil, errNoUser
	}
	n, ok := parsePath(h.prefix, name)
	if !ok {
		return nil, errNotFound
	}
	if n.isDir() {
		ok, err := h.exists(ctx, ri.user, n)
		if err != nil {
			return nil, h.fail(ctx, "stat", err)
		}
		if !ok {
			return nil, errNotFound
		}
		return h.dirInfo(n), nil
	}
	e, err := h.lookup(ctx, ri.user, n)
	if err != nil {
		return nil, err
	}
	return h.fileInfo(n.parent(), e), nil
}

func (fs *fileSystem) ReadDir(ctx context.Context, name string, recursive bool) ([]dav.FileInfo, error) {
	h := fs.h
	ri := infoFrom(ctx)
	if ri == nil {
		return nil, errNoUser
	}
	if recursive {
		return nil, errInfinity
	}
	n, ok := parsePath(h.prefix, name)
	if !ok {
		return nil, errNotFound
	}
	if !n.isDir() {
		e, err := h.lookup(ctx, ri.user, n)
		if err != nil {
			return nil, err
		}
		return []dav.FileInfo{*h.fileInfo(n.parent(), e)}, nil
	}
	if ok, err := h.exists(ctx, ri.user, n); err != nil {
		return nil, h.fail(ctx, "readdir", err)
	} else if !ok {
		return nil, errNotFound
	}
	l, err := h.list(ctx, ri.user, n)
	if err != nil {
		return nil, h.fail(ctx, "readdir", err)
	}
	out := make([]dav.FileInfo, 0, 1+len(l.entries))
	out = append(out, *h.dirInfo(n))
	for _, e := range l.entries {
		if e.dir {
			c, ok := n.child(e.name, true)
			if !ok {
				continue
			}
			out = append(out, *h.dirInfo(c))
		} else {
			out = append(out, *h.fileInfo(n, e))
		}
	}
	return out, nil
}

// Open returns the original over its encrypted chunks: an io.ReadSeeker,
// so go-webdav serves Range requests through http.ServeContent. The
// recording's seal is checked first, and the first piece asked for is
// read; a failure of either is a 500 audited as integrity.fail. A GET is
// written to the audit log before any byte leaves; when the log cannot be
// written, nothing is served.
func (fs *fileSystem) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	h := fs.h
	ri := infoFrom(ctx)
	if ri == nil {
		return nil, errNoUser
	}
	n, ok := parsePath(h.prefix, name)
	if !ok || n.isDir() {
		return nil, errNotFound
	}
	e, err := h.lookup(ctx, ri.user, n)
	if err != nil {
		return nil, err
	}
	// The seal is checked before any byte leaves (archive.CheckPlayback).
	if _, err := h.arc.CheckPlayback(ctx, e.id); err != nil {
		if errors.Is(err, archive.ErrCorrupt) {
			h.integrityFailed(ctx, ri, e.id, err)
			return nil, errIntegrity
		}
		return nil, h.fail(ctx, "seal check", err)
	}
	b, err := h.arc.OpenBlob(ctx, e.id, archive.BlobOriginal)
	if err != nil {
		return nil, h.fail(ctx, "open", err)
	}
	if b.Size() != e.size {
		h.log.ErrorContext(ctx, "webdav: original size differs from its metadata", "recording", e.id.String(),
			"blob", b.Size(), "meta", e.size)
		return nil, errInternal
	}
	// The first piece asked for is read before the status is sent, so a
	// chunk there that fails authentication is a clear 500, not a reset.
	if start := rangeStart(ri.rng, b.Size()); ri.method == http.MethodGet && start < b.Size() {
		var one [1]byte
		if _, err := b.ReadAt(one[:], start); err != nil && err != io.EOF {
			if errors.Is(err, archive.ErrCorrupt) {
				h.integrityFailed(ctx, ri, e.id, err)
				return nil, errIntegrity
			}
			return nil, h.fail(ctx, "read", err)
		}
	}
	if ri.method == http.MethodGet {
		detail := "path=" + h.prefix + n.rel()
		if ri.rng != "" {
			detail += " range=" + ri.rng
		}
		err := h.arc.Audit(ctx, archive.AuditEvent{
			Actor: ri.user.Login, Action: "webdav.get", Target: e.id.String(),
			Remote: ri.remote, OK: true, Detail: detail,
		})
		if err != nil {
			return nil, h.fail(ctx, "audit", err)
		}
	}
	return &blobFile{b: b, h: h, ctx: ctx, ri: ri, id: e.id}, nil
}

// rangeStart is where the first range of a Range header starts in a file
// of size bytes (0 without one, or when it does not parse).
func rangeStart(rangeHeader string, size int64) int64 {
	spec, ok := strings.CutPrefix(strings.TrimSpace(rangeHeader), "bytes=")
	if !ok {
		return 0
	}
	first, _, _ := strings.Cut(spec, ",")
	from, to, _ := strings.Cut(strings.TrimSpace(first), "-")
	if from == "" { // a suffix: the last N bytes
		if n, err := strconv.ParseInt(to, 10, 64); err == nil && n > 0 {
			return max(0, size-n)
		}
		return 0
	}
	if n, err := strconv.ParseInt(from, 10, 64); err == nil && n >= 0 {
		return n
	}
	return 0
}

// blobFile serves a blob (which holds no resources to close). The first
// read that fails is kept in the request's reqInfo, so that ServeHTTP
// aborts the response, whose status and length are sent by then; a chunk
// that fails authentication is audited as integrity.fail.
type blobFile struct {
	b   *archive.Blob
	h   *Handler
	ctx context.Context
	ri  *reqInfo
	id  archive.ID
}

func (f *blobFile) Read(p []byte) (int, error) {
	n, err := f.b.Read(p)
	if err != nil && err != io.EOF && f.ri.readFailed(err) && errors.Is(err, archive.ErrCorrupt) {
		f.h.integrityFailed(f.ctx, f.ri, f.id, err)
	}
	return n, err
}

func (f *blobFile) Seek(off int64, whence int) (int64, error) { return f.b.Seek(off, whence) }

func (*blobFile) Close() error { return nil }

// errIntegrity refuses a file whose seal does not match the stored
// recording.
var errIntegrity = dav.NewHTTPError(http.StatusInternalServerError,
	errors.New("the recording failed its integrity check (its seal does not match the stored recording); nothing is served"))

// integrityFailed logs and audits a recording that failed its seal check
// or whose stored bytes failed authentication while it was served.
func (h *Handler) integrityFailed(ctx context.Context, ri *reqInfo, id archive.ID, err error) {
	h.log.ErrorContext(ctx, "webdav: recording failed its integrity check; not served", "recording", id.String(), "err", err)
	detail := "webdav: " + strings.TrimPrefix(err.Error(), "archive: ")
	var se *archive.SealError
	var ce *archive.ChunkError
	switch {
	case errors.As(err, &se):
		detail = "webdav: seal: " + se.Reason
	case errors.As(err, &ce):
		detail = fmt.Sprintf("webdav: original chunk %d: %s", ce.Index, ce.Reason)
	}
	aerr := h.arc.Audit(context.WithoutCancel(ctx), archive.AuditEvent{
		Actor: ri.user.Login, Action: "integrity.fail", Target: id.String(), Remote: ri.remote, Detail: detail,
	})
	if aerr != nil {
		h.log.ErrorContext(ctx, "webdav: audit of an integrity failure", "err", aerr)
	}
}

func (fs *fileSystem) Create(context.Context, string, io.ReadCloser) (*dav.FileInfo, bool, error) {
	return nil, false, errReadOnly
}

func (fs *fileSystem) RemoveAll(context.Context, string) error { return errReadOnly }

func (fs *fileSystem) Mkdir(context.Context, string) error { return errReadOnly }

func (fs *fileSystem) Copy(context.Context, string, string, *dav.CopyOptions) (bool, error) {
	return false, errReadOnly
}

func (fs *fileSystem) Move(context.Context, string, string, *dav.MoveOptions) (bool, error) {
	return false, errReadOnly
}

func (h *Handler) dirInfo(n node) *dav.FileInfo {
	return &dav.FileInfo{Path: h.prefix + n.rel(), IsDir: true}
}

func (h *Handler) fileInfo(dir node, e entry) *dav.FileInfo {
	return &dav.FileInfo{
		Path: h.prefix + dir.rel() + e.name, Size: e.size, ModTime: e.mtime,
		MIMEType: e.ctype, ETag: e.etag,
	}
}

// lookup finds a file in its day's listing, and asks again whether u may
// read its recording now: the listing may be cached (up to the cache's
// TTL), but a file is served, or shown by PROPFIND, only while the
// recording, loaded afresh, is still in u's view of the collection (not
// binned, archive.MayRead).
func (h *Handler) lookup(ctx context.Context, u *archive.User, n node) (entry, error) {
	day := n.parent()
	if n.inUser {
		if ok, err := h.userVisible(ctx, u, n.user); err != nil {
			return entry{}, h.fail(ctx, "lookup", err)
		} else if !ok {
			return entry{}, errNotFound
		}
	}
	l, err := h.list(ctx, u, day)
	if err != nil {
		return entry{}, h.fail(ctx, "lookup", err)
	}
	e, ok := l.find(n.name)
	if !ok || e.dir {
		return entry{}, errNotFound
	}
	if ok, err := h.readable(ctx, u, day, e.id); err != nil {
		return entry{}, h.fail(ctx, "lookup", err)
	} else if !ok {
		return entry{}, errNotFound
	}
	return e, nil
}

// readable reports whether recording id, loaded afresh, is in u's view of
// collection dir now. One request asks once per recording (go-webdav calls
// Stat, then Open).
func (h *Handler) readable(ctx context.Context, u *archive.User, dir node, id archive.ID) (bool, error) {
	ri := infoFrom(ctx)
	if ri != nil && ri.readable[id] {
		return true, nil
	}
	rec, err := h.arc.Get(ctx, id)
	if errors.Is(err, archive.ErrNotFound) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	match, err := h.filter(ctx, u, dir)
	if err != nil {
		return false, err
	}
	if !match(rec) {
		return false, nil
	}
	if ri != nil {
		if ri.readable == nil {
			ri.readable = map[archive.ID]bool{}
		}
		ri.readable[id] = true
	}
	return true, nil
}

// exists reports whether collection n is in u's view: the root and users/
// always, users/<login>/ when users/ lists it, a date collection when it
// holds something u may read.
func (h *Handler) exists(ctx context.Context, u *archive.User, n node) (bool, error) {
	switch n.kind {
	case kindRoot, kindUsers:
		return true, nil
	case kindUser:
		return h.userVisible(ctx, u, n.user)
	}
	if n.inUser {
		if ok, err := h.userVisible(ctx, u, n.user); err != nil || !ok {
			return false, err
		}
	}
	l, err := h.list(ctx, u, n)
	if err != nil {
		return false, err
	}
	return len(l.entries) > 0, nil
}

func (h *Handler) userVisible(ctx context.Context, u *archive.User, login string) (bool, error) {
	l, err := h.list(ctx, u, node{kind: kindUsers})
	if err != nil {
		return false, err
	}
	e, ok := l.find(login)
	return ok && e.dir, nil
}

// list returns collection n's members as u sees them, from the cache when
// it is fresh.
func (h *Handler) list(ctx context.Context, u *archive.User, n node) (*listing, error) {
	key := u.Login + "\x00" + n.rel()
	ri := infoFrom(ctx)
	if ri != nil && ri.memo[key] != nil {
		return ri.memo[key], nil
	}
	now := h.now()
	l := h.cache.get(key, now)
	if l == nil {
		entries, err := h.compute(ctx, u, n)
		if err != nil {
			return nil, err
		}
		slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.name, b.name) })
		l = &listing{entries: entries, expires: now.Add(h.ttl)}
		if h.ttl > 0 {
			h.cache.put(key, l, now)
		}
	}
	if ri != nil {
		if ri.memo == nil {
			ri.memo = map[string]*listing{}
		}
		ri.memo[key] = l
	}
	return l, nil
}

func (h *Handler) compute(ctx context.Context, u *archive.User, n node) ([]entry, error) {
	if n.kind == kindUsers {
		return h.usersEntries(ctx, u)
	}
	match, err := h.filter(ctx, u, n)
	if err != nil {
		return nil, err
	}
	from, to := n.span()
	var out []entry
	switch n.kind {
	case kindRoot, kindUser:
		out, err = h.units(ctx, u, match, from, to, yearOf, func(t time.Time) string { return t.Format("2006") })
		if n.kind == kindRoot {
			out = append(out, entry{name: usersDir, dir: true})
		}
	case kindYear:
		out, err = h.units(ctx, u, match, from, to, monthOf, func(t time.Time) string { return t.Format("01") })
	case kindMonth:
		out, err = h.units(ctx, u, match, from, to, dayOf, func(t time.Time) string { return t.Format("02") })
	case kindDay:
		out, err = h.files(ctx, u, match, from, to)
	}
	return out, err
}

// filter returns which recordings u sees in collection n: finished ones
// that archive.MayRead allows, and below users/<login>/ only that login's.
func (h *Handler) filter(ctx context.Context, u *archive.User, n node) (func(*archive.Recording) bool, error) {
	base := func(r *archive.Recording) bool {
		return r.State != archive.StateRecording && archive.MayRead(u, r)
	}
	if !n.inUser {
		return base, nil
	}
	if n.user != unassigned {
		login := n.user
		return func(r *archive.Recording) bool { return strings.EqualFold(r.User, login) && base(r) }, nil
	}
	accounts, err := h.accounts(ctx)
	if err != nil {
		return nil, err
	}
	known := make(map[string]bool, len(accounts))
	for _, a := range accounts {
		known[strings.ToLower(a.Login)] = true
	}
	return func(r *archive.Recording) bool {
		return (r.User == "" || !known[strings.ToLower(r.User)]) && base(r)
	}, nil
}

// accounts returns the user accounts, cached like listings.
func (h *Handler) accounts(ctx context.Context) ([]archive.User, error) {
	now := h.now()
	c := &h.cache
	c.mu.Lock()
	if c.accounts != nil && now.Before(c.accExp) {
		us := c.accounts
		c.mu.Unlock()
		return us, nil
	}
	c.mu.Unlock()
	us, err := h.arc.Users(ctx)
	if err != nil {
		return nil, err
	}
	if us == nil {
		us = []archive.User{}
	}
	if h.ttl > 0 {
		c.mu.Lock()
		c.accounts, c.accExp = us, now.Add(h.ttl)
		c.mu.Unlock()
	}
	return us, nil
}

// usersEntries lists users/: for admins every account that can own
// recordings, plus _unassigned; for others their own login and the
// accounts on their access list.
func (h *Handler) usersEntries(ctx context.Context, u *archive.User) ([]entry, error) {
	accounts, err := h.accounts(ctx)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []entry
	add := func(login string) {
		if !loginDir(login) || seen[strings.ToLower(login)] {
			return
		}
		seen[strings.ToLower(login)] = true
		out = append(out, entry{name: login, dir: true})
	}
	if u.Role == archive.RoleAdmin {
		for _, a := range accounts {
			if a.Role != archive.RoleIngest {
				add(a.Login)
			}
		}
		out = append(out, entry{name: unassigned, dir: true})
		return out, nil
	}
	add(u.Login)
	for _, x := range u.AccessList {
		x = strings.TrimSpace(x)
		for _, a := range accounts {
			if a.Role != archive.RoleIngest && strings.EqualFold(a.Login, x) {
				add(a.Login)
			}
		}
	}
	return out, nil
}

// indexTime is the time the archive's time index (and so List's From/To)
// uses: StartTime, or Received while the start is unknown. The tree uses
// UTC dates.
func indexTime(r *archive.Recording) time.Time {
	if !r.StartTime.IsZero() {
		return r.StartTime.UTC()
	}
	return r.Received.UTC()
}

func yearOf(t time.Time) time.Time  { return time.Date(t.Year(), 1, 1, 0, 0, 0, 0, time.UTC) }
func monthOf(t time.Time) time.Time { return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC) }
func dayOf(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// units lists the years, months or days in [from, to) that hold a matching
// recording, without walking every recording: it asks List for the newest
// match, notes its unit, and asks again below the start of that unit. Each
// step decrypts at most one batch of candidates, so a month with recordings
// on 20 days costs 20 small List calls. ListFor walks only the recordings
// u may read (every recording for an admin).
func (h *Handler) units(ctx context.Context, u *archive.User, match func(*archive.Recording) bool, from, to time.Time,
	unit func(time.Time) time.Time, format func(time.Time) string) ([]entry, error) {
	var out []entry
	upper := to
	for i := 0; i < maxEntries; i++ {
		recs, _, err := h.arc.ListFor(ctx, u, archive.Query{From: from, To: upper, Limit: 1, Match: match})
		if err != nil {
			return nil, err
		}
		if len(recs) == 0 {
			break
		}
		start := unit(indexTime(recs[0]))
		if y := start.Year(); y >= 1 && y <= 9999 {
			out = append(out, entry{name: format(start), dir: true, mtime: start})
		}
		if !upper.IsZero() && !start.Before(upper) { // cannot happen: List returns t < To
			break
		}
		upper = start
		if !from.IsZero() && !upper.After(from) {
			break
		}
	}
	return out, nil
}

// files lists the recordings of one day.
func (h *Handler) files(ctx context.Context, u *archive.User, match func(*archive.Recording) bool, from, to time.Time) ([]entry, error) {
	var recs []*archive.Recording
	cursor := ""
	for {
		page, next, err := h.arc.ListFor(ctx, u, archive.Query{From: from, To: to, Limit: listPage, Cursor: cursor, Match: match})
		if err != nil {
			return nil, err
		}
		recs = append(recs, page...)
		if next == "" || len(recs) >= maxEntries {
			if next != "" {
				h.log.WarnContext(ctx, "webdav: day listing cut", "from", from, "entries", len(recs))
			}
			break
		}
		cursor = next
	}
	return fileEntries(recs), nil
}

// fileEntries names a day's recordings: "<name>~<id8><ext>", or with the
// whole ID for recordings whose short names collide.
func fileEntries(recs []*archive.Recording) []entry {
	count := make(map[string]int, len(recs))
	for _, r := range recs {
		count[fileName(r, false)]++
	}
	out := make([]entry, 0, len(recs))
	for _, r := range recs {
		name := fileName(r, false)
		if count[name] > 1 {
			name = fileName(r, true)
		}
		mtime := r.Finished
		if mtime.IsZero() {
			mtime = r.Received
		}
		ctype := typePcap
		if strings.HasSuffix(name, extPcapng) {
			ctype = typePcapng
		}
		out = append(out, entry{
			name: name, id: r.ID, size: r.OrigSize, mtime: mtime.UTC(),
			etag: hex.EncodeToString(r.OrigSHA256[:]), ctype: ctype,
		})
	}
	// A full-ID name could equal another recording's short one only if an
	// upload name ended in "~<32 hex>"; keep the first of any such pair.
	slices.SortStableFunc(out, func(a, b entry) int { return cmp.Compare(a.name, b.name) })
	return slices.CompactFunc(out, func(a, b entry) bool { return a.name == b.name })
}
