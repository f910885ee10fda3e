package api

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/callvault/callvault/internal/byterange"
)

// TestOriginalAuditsTheStart: every fetch of original.pcap whose answer
// carries the capture's first byte is an original.get, however the Range
// header spells it; a fetch of a later piece is not, and a header of many
// ranges is refused (416) without serving or auditing anything.
func TestOriginalAuditsTheStart(t *testing.T) {
	e := newPlayEnv(t)
	const size = 5000
	rec := e.addRec("alice", size, 1, true)
	path := "/api/v1/recordings/" + rec.ID.String() + "/original.pcap"
	many := "bytes=" + strings.Repeat("1-1,", byterange.MaxRanges) + "1-1"
	gets := 0
	for _, c := range []struct {
		name, rng string
		code      int
		audit     bool
	}{
		{"no range", "", http.StatusOK, true},
		{"from zero", "bytes=0-", http.StatusPartialContent, true},
		{"suffix beyond the start", "bytes=-100000000", http.StatusPartialContent, true},
		{"suffix to the start", fmt.Sprintf("bytes=-%d", size), http.StatusPartialContent, true},
		{"space after =", "bytes= 0-", http.StatusPartialContent, true},
		{"leading zeros", "bytes=00-10", http.StatusPartialContent, true},
		{"zero as a later range", "bytes=100-200,0-1", http.StatusPartialContent, true},
		{"a later piece", "bytes=100-", http.StatusPartialContent, false},
		{"the last bytes", "bytes=-100", http.StatusPartialContent, false},
		{"many ranges", many, http.StatusRequestedRangeNotSatisfiable, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			var hdr []string
			if c.rng != "" {
				hdr = []string{"Range", c.rng}
			}
			resp, body, err := e.get("alice", path, hdr...)
			if err != nil || resp.StatusCode != c.code {
				t.Fatalf("Range %q: %d %v, want %d", c.rng, resp.StatusCode, err, c.code)
			}
			if c.rng == many && (len(body) > 200 || resp.Header.Get("Content-Range") != fmt.Sprintf("bytes */%d", size)) {
				t.Errorf("many ranges: %d bytes, Content-Range %q", len(body), resp.Header.Get("Content-Range"))
			}
			n := len(e.audited("original.get"))
			if audited := n > gets; audited != c.audit {
				t.Errorf("Range %q: audited %v, want %v", c.rng, audited, c.audit)
			}
			gets = n
		})
	}
}
