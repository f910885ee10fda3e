package foureyes

import (
	"bytes"
	"encoding/json"
	"net/http"
)

// Events writes the server-sent events of a 4-eyes stream (a user's
// state, a supervisor's page), flushing each.
type Events struct {
	w    http.ResponseWriter
	rc   *http.ResponseController
	last []byte // the last "state" event's data
}

// StartEvents answers with an event stream on w.
func StartEvents(w http.ResponseWriter) (*Events, error) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	s := &Events{w: w, rc: http.NewResponseController(w)}
	// A reconnecting page comes back within a second, inside the grace.
	if _, err := w.Write([]byte("retry: 1000\n\n")); err != nil {
		return nil, err
	}
	return s, s.rc.Flush()
}

// Send writes one event whose data is v as JSON (one line).
func (s *Events) Send(event string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return s.SendRaw(event, b)
}

// SendRaw writes one event whose data is data (one line).
func (s *Events) SendRaw(event string, data []byte) error {
	buf := make([]byte, 0, len(event)+len(data)+16)
	buf = append(buf, "event: "...)
	buf = append(buf, event...)
	buf = append(buf, "\ndata: "...)
	buf = append(buf, data...)
	buf = append(buf, "\n\n"...)
	if _, err := s.w.Write(buf); err != nil {
		return err
	}
	return s.rc.Flush()
}

// SendState writes v as a "state" event unless it equals the last one.
func (s *Events) SendState(v any) error {
	b, err := json.Marshal(v)
	if err != nil || bytes.Equal(b, s.last) {
		return err
	}
	s.last = b
	return s.SendRaw("state", b)
}

// Comment writes an SSE comment, which keeps the connection busy.
func (s *Events) Comment(text string) error {
	if _, err := s.w.Write([]byte(": " + text + "\n\n")); err != nil {
		return err
	}
	return s.rc.Flush()
}
