package api

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzDecodeJSON: any body gives either a decoded value or a 4xx
// httpError whose message does not echo more than the field names.
func FuzzDecodeJSON(f *testing.F) {
	f.Add(`{"login":"x","password":"y","extensions":["1"]}`)
	f.Add(`{"login":1}`)
	f.Add(`{"nope":true}`)
	f.Add(`{"a":"b"} x`)
	f.Add(``)
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest("POST", "/", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		var v apiUserCreate
		err := decodeJSON(httptest.NewRecorder(), r, 1024, &v)
		if err == nil {
			return
		}
		var he *httpError
		if !errors.As(err, &he) || he.code < 400 || he.code > 499 {
			t.Fatalf("error %v is not a 4xx", err)
		}
		if he.code != http.StatusBadRequest && he.code != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d", he.code)
		}
	})
}
