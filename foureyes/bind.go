package foureyes

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/callvault/callvault/archive"
)

// errGrantEnded is what a response bound to a grant (Bind) returns from
// Write once the grant has ended.
var errGrantEnded = errors.New("foureyes: grant ended")

// Bind ties a request of u to u's 4-eyes grant. ok is false when u is
// under 4-eyes access without a grant (u may read no recording now);
// otherwise the returned writer and request are used instead of w and r,
// and release is called when the handler is done. For a user with a grant,
// the request's context ends and the writer stops writing when the grant
// ends, so audio and downloads in flight stop, even to a client that has
// stopped reading. For everyone else w and r are returned unchanged.
// WebDAV takes Bind as its gate.
func (f *Access) Bind(w http.ResponseWriter, r *http.Request, u *archive.User) (http.ResponseWriter, *http.Request, func(), bool) {
	gctx, ok := f.grantContext(u)
	if !ok && f != nil && f.sh != nil {
		// A grant given on another daemon a moment ago.
		f.fresh(r.Context())
		gctx, ok = f.grantContext(u)
	}
	if !ok {
		return w, r, func() {}, false
	}
	if gctx == nil {
		return w, r, func() {}, true
	}
	ctx, cancel := context.WithCancel(r.Context())
	rc := http.NewResponseController(w)
	fired := make(chan struct{})
	stop := context.AfterFunc(gctx, func() {
		defer close(fired)
		cancel()
		_ = rc.SetWriteDeadline(time.Now()) // unblocks a write to a client that does not read
	})
	release := func() {
		if !stop() {
			<-fired
			_ = rc.SetWriteDeadline(time.Time{}) // the connection may serve the next request
		}
		cancel()
	}
	return &boundWriter{ResponseWriter: w, ctx: ctx}, r.WithContext(ctx), release, true
}

// boundWriter refuses to write once its context has ended.
type boundWriter struct {
	http.ResponseWriter
	ctx context.Context
}

func (b *boundWriter) Write(p []byte) (int, error) {
	if b.ctx.Err() != nil {
		return 0, errGrantEnded
	}
	return b.ResponseWriter.Write(p)
}

func (b *boundWriter) Flush() {
	if b.ctx.Err() == nil {
		_ = http.NewResponseController(b.ResponseWriter).Flush()
	}
}

func (b *boundWriter) Unwrap() http.ResponseWriter { return b.ResponseWriter }
