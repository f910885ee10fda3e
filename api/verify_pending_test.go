package api

import (
	"encoding/json"
	"testing"
)

// TestVerifyExportsPending: a recording answered with its seal's export
// hashes still to follow verifies, and the answer says they are pending;
// once the exports entry is written, they are not.
func TestVerifyExportsPending(t *testing.T) {
	e := newPlayEnv(t)
	rec := e.addRec("alice", 100, 1, false)
	if err := e.arc.SealDeferred(t.Context(), rec.ID); err != nil {
		t.Fatal(err)
	}
	verify := func() (valid, pending bool) {
		t.Helper()
		_, body, _ := e.get("alice", "/api/v1/recordings/"+rec.ID.String()+"/verify")
		var got struct{ Valid, Sealed, ExportsPending bool }
		if err := json.Unmarshal(body, &got); err != nil || !got.Sealed {
			t.Fatalf("verify: %s %v", body, err)
		}
		return got.Valid, got.ExportsPending
	}
	if valid, pending := verify(); !valid || !pending {
		t.Fatalf("pending: valid %v, exportsPending %v", valid, pending)
	}
	if err := e.arc.SealExports(t.Context(), rec.ID, nil); err != nil {
		t.Fatal(err)
	}
	if valid, pending := verify(); !valid || pending {
		t.Fatalf("written: valid %v, exportsPending %v", valid, pending)
	}
}
