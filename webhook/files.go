package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/codec"
)

// FileLinkTTL is how long a file link works.
const FileLinkTTL = 30 * time.Minute

// FilePrefix is where file links are served (the UI zone).
const FilePrefix = "/hooks/files/"

const (
	tokenV1  = 1
	tokenMAC = 16
	tokenLen = 1 + 16 + 8 + tokenMAC
)

// FileURL mints a link to rec's WAV valid FileLinkTTL from now.
func (s *Service) FileURL(id archive.ID, now time.Time) string {
	return s.baseURL() + FilePrefix + s.fileToken(id, now.Add(FileLinkTTL)) + ".wav"
}

func (s *Service) fileToken(id archive.ID, exp time.Time) string {
	b := make([]byte, 0, tokenLen)
	b = append(b, tokenV1)
	b = append(b, id[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(exp.Unix()))
	m := hmac.New(sha256.New, s.fkey)
	m.Write(b)
	b = append(b, m.Sum(nil)[:tokenMAC]...)
	return base64.RawURLEncoding.EncodeToString(b)
}

var errLink = errors.New("bad or expired link")

// parseFileToken returns the recording a token names if it is genuine and
// unexpired at now.
func (s *Service) parseFileToken(tok string, now time.Time) (archive.ID, error) {
	var id archive.ID
	b, err := base64.RawURLEncoding.Strict().DecodeString(tok)
	if err != nil || len(b) != tokenLen || b[0] != tokenV1 {
		return id, errLink
	}
	m := hmac.New(sha256.New, s.fkey)
	m.Write(b[:tokenLen-tokenMAC])
	if !hmac.Equal(m.Sum(nil)[:tokenMAC], b[tokenLen-tokenMAC:]) {
		return id, errLink
	}
	exp := time.Unix(int64(binary.BigEndian.Uint64(b[17:25])), 0)
	if !now.Before(exp) {
		return id, errLink
	}
	copy(id[:], b[1:17])
	return id, nil
}

// FileHandler serves GET {FilePrefix}{token}.wav: the recording's stereo
// WAV with Range, without a login, while the token is valid. Each fetch
// is audited.
func (s *Service) FileHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Referrer-Policy", "no-referrer")
		tok, ok := strings.CutSuffix(strings.TrimPrefix(r.URL.Path, FilePrefix), ".wav")
		if !ok {
			http.NotFound(w, r)
			return
		}
		id, err := s.parseFileToken(tok, s.opt.Now())
		if err != nil {
			http.Error(w, "this link is not valid or has expired", http.StatusNotFound)
			return
		}
		rec, err := s.arc.Get(r.Context(), id)
		if err != nil || !rec.Binned.IsZero() || rec.State == archive.StateRecording {
			http.Error(w, "this link is not valid or has expired", http.StatusNotFound)
			return
		}
		wav, err := s.media.WAV(r.Context(), []*archive.Recording{rec}, -1, codec.WAVOptions{})
		if err != nil {
			s.log.Error("webhook file link: rendering failed", "recording", id.String(), "err", err)
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		if rg := r.Header.Get("Range"); r.Method == http.MethodGet && (rg == "" || strings.HasPrefix(rg, "bytes=0-")) {
			if err := s.arc.Audit(r.Context(), archive.AuditEvent{Time: s.opt.Now(), Actor: "webhook link",
				Action: "play", Target: id.String(), Remote: r.RemoteAddr, OK: true,
				Detail: "audio fetched through a webhook's file link"}); err != nil {
				s.log.Error("webhook file link: audit failed", "err", err)
				http.Error(w, "internal error", http.StatusInternalServerError)
				return
			}
		}
		w.Header().Set("Content-Type", "audio/wav")
		w.Header().Set("Content-Disposition", `inline; filename="`+id.String()+`.wav"`)
		http.ServeContent(w, r, "", rec.Finished, wav)
	})
}
