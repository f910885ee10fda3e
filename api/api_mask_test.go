package api

import (
	"context"
	"strings"
	"testing"
)

// TestAPIMaskDTMFSettings: the appliance's maskDtmf setting and a user's
// are read and set by admins only, stored, and audited.
func TestAPIMaskDTMFSettings(t *testing.T) {
	e := newAPIEnv(t)
	ctx := context.Background()
	e.want("admin", "GET", "/api/v1/settings", nil, 200, `"maskDtmf": false`)
	e.want("alice", "PATCH", "/api/v1/settings", map[string]any{"maskDtmf": true}, 403)
	e.want("admin", "PATCH", "/api/v1/settings", map[string]any{"maskDtmf": true}, 200, `"maskDtmf": true`)
	if s, err := e.arc.Settings(ctx); err != nil || !s.MaskDTMF {
		t.Fatalf("stored %+v %v", s, err)
	}
	if evs := e.audited("settings.change"); len(evs) != 1 || !strings.Contains(evs[0].Detail, "maskDtmf=true") {
		t.Fatalf("settings.change: %+v", evs)
	}

	e.want("admin", "GET", "/api/v1/users/carol", nil, 200, `"maskDtmf": false`)
	e.want("alice", "PATCH", "/api/v1/users/alice", map[string]any{"maskDtmf": true}, 403)
	e.want("admin", "PATCH", "/api/v1/users/carol", map[string]any{"maskDtmf": true}, 200, `"maskDtmf": true`)
	if u, err := e.arc.GetUser(ctx, "carol"); err != nil || !u.MaskDTMF {
		t.Fatalf("carol %+v %v", u, err)
	}
	e.want("admin", "POST", "/api/v1/users", map[string]any{"login": "desk1", "maskDtmf": true}, 201, `"maskDtmf": true`)
	if u, err := e.arc.GetUser(ctx, "desk1"); err != nil || !u.MaskDTMF {
		t.Fatalf("desk1 %+v %v", u, err)
	}
	found := false
	for _, ev := range e.audited("user.change") {
		found = found || strings.Contains(ev.Detail, "maskDtmf=true")
	}
	if !found {
		t.Errorf("no user.change audit entry with maskDtmf=true: %+v", e.audited("user.change"))
	}
}
