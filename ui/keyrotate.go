package ui

import (
	"crypto/rand"
	"crypto/subtle"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// keyDownloadTTL is how long after a key rotation its one download is
// offered.
const keyDownloadTTL = 10 * time.Minute

// keyDownload is the one download of a new key file offered right after
// a rotation: to the admin who rotated, once, within keyDownloadTTL.
type keyDownload struct {
	mu    sync.Mutex
	token string
	login string
	until time.Time
}

// keyRotatedView tells the admin where the new key is and where the old
// one was kept.
type keyRotatedView struct {
	Path, Old string
	Token     string // the one download's token
}

// offer makes a new one-time download for login, replacing any earlier.
func (k *keyDownload) offer(login string, until time.Time) string {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.token, k.login, k.until = rand.Text(), login, until
	return k.token
}

// take reports whether token is the offered download of login, and ends
// the offer if it is.
func (k *keyDownload) take(token, login string, now time.Time) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.token == "" || subtle.ConstantTimeCompare([]byte(token), []byte(k.token)) != 1 || login != k.login || now.After(k.until) {
		return false
	}
	k.token = ""
	return true
}

// settingsKeyRotated renders the settings page after a key-file rotation.
func (u *UI) settingsKeyRotated(w http.ResponseWriter, r *http.Request, rc *reqCtx, old string) error {
	p, err := u.settingsPage(r, rc, rc.settings)
	if err != nil {
		return err
	}
	p.KeyRotated = &keyRotatedView{Path: u.opts.KeyFile, Old: old,
		Token: u.keyDL.offer(rc.user.Login, u.opts.Now().Add(keyDownloadTTL))}
	u.render(w, r, http.StatusOK, "settings.html", p)
	return nil
}

// settingsKeyDownload is POST /admin/settings/key/download: the new key
// file, once, to the admin who rotated it, right after the rotation.
func (u *UI) settingsKeyDownload(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	if u.opts.KeyFile == "" || !u.keyDL.take(r.PostForm.Get("token"), rc.user.Login, u.opts.Now()) {
		u.audit(r, rc, "key.download", "archive key", false, "no download offered")
		return &pageError{code: http.StatusGone, msg: "msg.newKeyFileCan"}
	}
	b, err := os.ReadFile(u.opts.KeyFile)
	if err != nil {
		return err
	}
	defer clear(b)
	u.audit(r, rc, "key.download", "archive key", true, "")
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="`+filepath.Base(u.opts.KeyFile)+`"`)
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(b)
	return nil
}
