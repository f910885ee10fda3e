package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"time"

	"github.com/callvault/callvault/archive"
)

// cdrMaxBody bounds a CDR request body.
const cdrMaxBody = 64 << 10

// cdrRoutes adds the routes an integration account may use.
func (a *API) cdrRoutes(mux *http.ServeMux) {
	mux.Handle("POST /api/v1/cdr", a.wrapIntegration(a.cdrCreate))
	a.innovaphoneRoutes(mux) // cdr_innovaphone.go
}

// cdrCreate stores a call detail record: 201 when new, 200 when the same
// record was stored before.
func (a *API) cdrCreate(w http.ResponseWriter, r *http.Request, u *archive.User) error {
	if u.Role != archive.RoleIntegration && u.Role != archive.RoleAdmin {
		return errStatus(http.StatusForbidden, "integration accounts and admins only")
	}
	if ct := r.Header.Get("Content-Type"); ct == "" {
		return errStatus(http.StatusUnsupportedMediaType, "the body must be application/json")
	} else if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
		return errStatus(http.StatusUnsupportedMediaType, "the body must be application/json")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, cdrMaxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errStatus(http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is larger than %d bytes", cdrMaxBody))
		}
		return errStatus(http.StatusBadRequest, "the body could not be read")
	}
	c, err := parseCDR(body)
	if err != nil {
		return err
	}
	created, err := a.arc.PutCDR(r.Context(), c)
	var ce *archive.CDRError
	if errors.As(err, &ce) {
		return errStatus(http.StatusBadRequest, fmt.Sprintf("field %q: %s", ce.Field, ce.Msg))
	}
	if err != nil {
		return err
	}
	code := http.StatusOK
	if created {
		code = http.StatusCreated
	}
	writeJSON(w, code, struct {
		CallID  string `json:"callId"`
		Created bool   `json:"created"`
	}{c.CallID, created})
	return nil
}

// parseCDR reads a CDR's JSON object. Unknown fields are ignored (a
// sender may send more than this appliance keeps); a known field of the
// wrong type is an error naming it; null is the same as absent. Times are
// RFC 3339 strings or epoch milliseconds; durations are whole
// milliseconds. Sizes and values are then checked by CDR.Validate.
func parseCDR(body []byte) (archive.CDR, error) {
	var c archive.CDR
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var obj map[string]json.RawMessage
	if err := dec.Decode(&obj); err != nil {
		if len(bytes.TrimSpace(body)) == 0 {
			return c, errStatus(http.StatusBadRequest, "the body is empty")
		}
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) {
			return c, errStatus(http.StatusBadRequest, "the body must be a JSON object")
		}
		return c, errStatus(http.StatusBadRequest, "the body is not valid JSON")
	}
	if obj == nil {
		return c, errStatus(http.StatusBadRequest, "the body must be a JSON object")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return c, errStatus(http.StatusBadRequest, "the body must hold exactly one JSON object")
	}
	bad := func(field, want string) error {
		return errStatus(http.StatusBadRequest, fmt.Sprintf("field %q must be %s", field, want))
	}
	text := func(field string, dst *string) error {
		v, ok := obj[field]
		if !ok || string(v) == "null" {
			return nil
		}
		if err := json.Unmarshal(v, dst); err != nil {
			return bad(field, "a string")
		}
		return nil
	}
	when := func(field string, dst *time.Time) error {
		v, ok := obj[field]
		if !ok || string(v) == "null" {
			return nil
		}
		var s string
		if json.Unmarshal(v, &s) == nil {
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return bad(field, "an RFC 3339 time or epoch milliseconds")
			}
			*dst = t
			return nil
		}
		ms, err := wholeNumber(v)
		if err != nil || ms < 0 || ms > 253402300799999 { // year 9999
			return bad(field, "an RFC 3339 time or epoch milliseconds")
		}
		*dst = time.UnixMilli(ms).UTC()
		return nil
	}
	millis := func(field string, dst **int64) error {
		v, ok := obj[field]
		if !ok || string(v) == "null" {
			return nil
		}
		ms, err := wholeNumber(v)
		if err != nil {
			return bad(field, "a whole number of milliseconds")
		}
		*dst = &ms
		return nil
	}
	for _, f := range []struct {
		name string
		dst  *string
	}{
		{"callId", &c.CallID}, {"direction", &c.Direction},
		{"callerNumber", &c.CallerNumber}, {"callerName", &c.CallerName},
		{"calleeNumber", &c.CalleeNumber}, {"calleeName", &c.CalleeName},
		{"accessNumber", &c.AccessNumber}, {"queueName", &c.QueueName},
		{"answerGroupId", &c.AnswerGroupID}, {"answerGroupName", &c.AnswerGroupName},
		{"agentId", &c.AgentID}, {"agentName", &c.AgentName},
		{"referredBy", &c.ReferredBy}, {"referredTo", &c.ReferredTo},
	} {
		if err := text(f.name, f.dst); err != nil {
			return c, err
		}
	}
	if err := when("startTime", &c.StartTime); err != nil {
		return c, err
	}
	if err := when("endTime", &c.EndTime); err != nil {
		return c, err
	}
	if err := millis("waitTimeMs", &c.WaitTimeMs); err != nil {
		return c, err
	}
	if err := millis("talkTimeMs", &c.TalkTimeMs); err != nil {
		return c, err
	}
	if err := c.Validate(); err != nil {
		var ce *archive.CDRError
		if errors.As(err, &ce) {
			return c, errStatus(http.StatusBadRequest, fmt.Sprintf("field %q: %s", ce.Field, ce.Msg))
		}
		return c, errStatus(http.StatusBadRequest, "invalid call detail record")
	}
	return c, nil
}

// wholeNumber reads a JSON number that is a whole number within int64.
func wholeNumber(v json.RawMessage) (int64, error) {
	v = bytes.TrimSpace(v)
	if len(v) == 0 || (v[0] != '-' && (v[0] < '0' || v[0] > '9')) {
		return 0, errors.New("not a number")
	}
	var n json.Number
	if err := json.Unmarshal(v, &n); err != nil {
		return 0, err
	}
	if i, err := n.Int64(); err == nil {
		return i, nil
	}
	f, err := n.Float64()
	if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, errors.New("not a whole number")
	}
	return int64(f), nil
}
