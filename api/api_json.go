package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/callvault/callvault/archive"
)

// Request-body limits of the JSON API.
const (
	apiMaxBody     = 64 << 10                 // users, notes, settings, tokens
	apiMinPassword = archive.MinPasswordLen   // characters
	apiMinPass     = archive.MinPassphraseLen // characters of an archive passphrase
)

// decodeJSON reads a JSON object of at most max bytes into v: the
// Content-Type must be application/json, unknown fields and trailing data
// are refused, and every failure is a 4xx with a message that names the
// problem (never internals).
func decodeJSON(w http.ResponseWriter, r *http.Request, max int64, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return errStatus(http.StatusUnsupportedMediaType, "the body must be application/json")
		}
	} else {
		return errStatus(http.StatusUnsupportedMediaType, "the body must be application/json")
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, max))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err, max)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return jsonError(err, max)
		}
		return errStatus(http.StatusBadRequest, "the body must hold exactly one JSON object")
	}
	return nil
}

// jsonError turns a decoding error into a client message.
func jsonError(err error, max int64) error {
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
		mbe *http.MaxBytesError
	)
	switch {
	case errors.As(err, &mbe):
		return errStatus(http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is larger than %d bytes", max))
	case errors.Is(err, io.EOF):
		return errStatus(http.StatusBadRequest, "the body is empty")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errStatus(http.StatusBadRequest, "the body is not complete JSON")
	case errors.As(err, &syn):
		return errStatus(http.StatusBadRequest, fmt.Sprintf("malformed JSON at byte %d", syn.Offset))
	case errors.As(err, &typ):
		if typ.Field != "" {
			return errStatus(http.StatusBadRequest, fmt.Sprintf("field %q must be %s", typ.Field, jsonKind(typ.Type.Kind().String())))
		}
		return errStatus(http.StatusBadRequest, "the body must be a JSON object")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return errStatus(http.StatusBadRequest, "unknown field "+strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return errStatus(http.StatusBadRequest, "the body is not valid JSON")
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice":
		return "an array"
	case "map", "struct":
		return "an object"
	case "int", "int64", "uint64", "float64":
		return "a number"
	}
	return "of another type"
}

// requireAdmin refuses everyone but admins.
func requireAdmin(u *archive.User) error {
	if u.Role != archive.RoleAdmin {
		return errStatus(http.StatusForbidden, "admins only")
	}
	return nil
}

// auditEvent records an event by the caller of r. A failure to record is
// returned: an action the audit log cannot hold is not done (or, for
// reads, not served).
func (a *API) auditEvent(ctx context.Context, r *http.Request, u *archive.User, action, target string, ok bool, detail string) error {
	actor := ""
	if u != nil {
		actor = u.Login
	}
	return a.arc.Audit(ctx, archive.AuditEvent{Actor: actor, Action: action, Target: target, Remote: sourceIP(r), OK: ok, Detail: detail})
}

// invalid maps archive.ErrInvalid to a 400 with msg, and passes other
// errors on.
func invalid(err error, msg string) error {
	if errors.Is(err, archive.ErrInvalid) {
		return errStatus(http.StatusBadRequest, msg)
	}
	return err
}

func noContent(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}
