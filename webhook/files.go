package webhook

import (
	"context"
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
	"github.com/callvault/callvault/internal/byterange"
	"github.com/callvault/callvault/internal/webcore"
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

// Messages of the file link.
const (
	msgLinkDead = "this link is not valid or has expired"
	// msgSealBroken is what the API answers when a recording's seal does
	// not verify (api/playback.go).
	msgSealBroken = "the recording failed its integrity check (its seal does not match the stored recording); nothing is served. An administrator can verify the recording and the seal chain"
)

// FileHandler serves GET {FilePrefix}{token}.wav: the recording's stereo
// WAV with Range, without a login, while the token is valid. As at every
// other door, the recording's seal is checked first (archive.CheckPlayback):
// a seal that does not verify is a 500 and an integrity.fail audit entry,
// and nothing is served. Each fetch whose answer may carry the file's
// first byte is audited as a play (byterange.ServesStart); a header with
// more than byterange.MaxRanges ranges is refused with 416.
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
			http.Error(w, msgLinkDead, http.StatusNotFound)
			return
		}
		rec, err := s.arc.Get(r.Context(), id)
		if err != nil || !rec.Binned.IsZero() || rec.State == archive.StateRecording {
			http.Error(w, msgLinkDead, http.StatusNotFound)
			return
		}
		st, err := s.arc.CheckPlayback(r.Context(), id)
		switch {
		case errors.Is(err, archive.ErrCorrupt):
			s.integrityFailed(r, id, err)
			http.Error(w, msgSealBroken, http.StatusInternalServerError)
			return
		case errors.Is(err, archive.ErrNotFound):
			http.Error(w, msgLinkDead, http.StatusNotFound)
			return
		case err != nil:
			s.log.Error("webhook file link: seal check failed", "recording", id.String(), "err", err)
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		wav, err := s.media.WAV(r.Context(), []*archive.Recording{rec}, -1, codec.WAVOptions{})
		if err != nil {
			s.log.Error("webhook file link: rendering failed", "recording", id.String(), "err", err)
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		if byterange.TooMany(r) {
			byterange.Refuse(w, wav.Size())
			return
		}
		// The piece asked for is read before the status is sent, so that a
		// stored chunk that fails authentication is a clear 500.
		if err := webcore.Probe(wav, r.Header.Get("Range")); err != nil {
			if errors.Is(err, archive.ErrCorrupt) {
				s.integrityFailed(r, id, err)
				http.Error(w, msgSealBroken, http.StatusInternalServerError)
				return
			}
			s.log.Error("webhook file link: reading failed", "recording", id.String(), "err", err)
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		if r.Method == http.MethodGet && byterange.ServesStart(r, wav.Size()) {
			if err := s.arc.Audit(r.Context(), archive.AuditEvent{Time: s.opt.Now(), Actor: fileLinkActor,
				Action: "play", Target: id.String(), Remote: archive.AddrHost(r.RemoteAddr), OK: true,
				Detail: "audio fetched through a webhook's file link"}); err != nil {
				s.log.Error("webhook file link: audit failed", "err", err)
				http.Error(w, "internal error", http.StatusInternalServerError)
				return
			}
		}
		w.Header().Set("Content-Type", "audio/wav")
		w.Header().Set("Content-Disposition", `inline; filename="`+id.String()+`.wav"`)
		w.Header().Set(sealHeader, string(st))
		cr := webcore.NewCheckedReader(wav)
		http.ServeContent(w, r, "", rec.Finished, cr)
		if err := cr.Failed(); err != nil {
			// The status and length are sent: abort, so the client sees a
			// failed transfer rather than a short file.
			if errors.Is(err, archive.ErrCorrupt) {
				s.integrityFailed(r, id, err)
			} else if r.Context().Err() == nil {
				s.log.Error("webhook file link: serving failed part way", "recording", id.String(), "err", err)
			}
			panic(http.ErrAbortHandler)
		}
	})
}

// fileLinkActor is who the audit log names for a file link's fetches.
const fileLinkActor = "webhook link"

// sealHeader tells the client what the seal check found ("sealed" or
// "unsealed"), as the API's audio route does.
const sealHeader = "Callvault-Seal"

// integrityFailed logs and audits a recording whose seal or stored bytes
// failed a check while its file link was served.
func (s *Service) integrityFailed(r *http.Request, id archive.ID, err error) {
	s.log.Error("webhook file link: recording failed its integrity check; not served", "recording", id.String(), "err", err)
	detail := "webhook file link: " + strings.TrimPrefix(err.Error(), "archive: ")
	var se *archive.SealError
	if errors.As(err, &se) {
		detail = "webhook file link: seal: " + se.Reason
	}
	// Written even when the request was cancelled by then.
	if aerr := s.arc.Audit(context.WithoutCancel(r.Context()), archive.AuditEvent{Time: s.opt.Now(), Actor: fileLinkActor,
		Action: "integrity.fail", Target: id.String(), Remote: archive.AddrHost(r.RemoteAddr), OK: false, Detail: detail}); aerr != nil {
		s.log.Error("webhook file link: audit of an integrity failure", "err", aerr)
	}
}
