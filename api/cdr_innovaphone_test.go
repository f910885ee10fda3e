package api

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/internal/webtest"
)

// innoTransfer is a <cdr> as the innovaphone PBX documents it (wiki,
// "Reference14r2:Concept Call Detail Record CDR PBX", the example of a
// call from A to B transferred to C), with this test's own ids, names and
// times: the object 201 (A) calls 202 (B), which answers after 5 s and
// transfers to 203 (C); the call ends 40 s after its setup.
const innoTransfer = `<cdr id="0a1b2c3d4e5f60718293a4b5c6d7e8f9" guid="11111111222233334444555566667777" seq="17" sys="pbx.example" pbx="master" node="root" device="a" cn="Anna Agent" e164="201" h323="anna" obj-h323="anna" obj-e164="201" call="aaaabbbbccccddddeeeeffff00001111" dir="from" utc="1764000000" local="1764003600" reporting="0">
<user/>
<event msg="setup-from" time="130" e164="202" conf="c0nf0000111122223333444455556666"/>
<event msg="alert-to" time="130" e164="202" dn="Bernd Berater" h323="bernd" call="22223333444455556666777788889999"/>
<event msg="conn-to" time="135" e164="202" dn="Bernd Berater" root="202" h323="bernd" call="22223333444455556666777788889999"/>
<event msg="transfer-to" time="160" e164="202" dn="Bernd Berater" root="203" h323="bernd" call="22223333444455556666777788889999">
<to e164="203" dn="Carla Chefin" h323="carla" call="33334444555566667777888899990000"/>
</event>
<event msg="connected" time="160" e164="203" dn="Carla Chefin" root="203" h323="carla" call="33334444555566667777888899990000"/>
<event msg="rel-to" time="170" e164="203" dn="Carla Chefin" h323="carla"/>
</cdr>`

func TestInnovaphoneCDRParse(t *testing.T) {
	c, err := parseInnovaphoneCDR([]byte(innoTransfer))
	if err != nil {
		t.Fatal(err)
	}
	want := archive.CDR{CallID: "c0nf0000111122223333444455556666", Direction: archive.CDROutbound,
		CallerNumber: "201", CallerName: "Anna Agent", CalleeNumber: "202", CalleeName: "Bernd Berater",
		AgentID: "anna", AgentName: "Anna Agent", ReferredTo: "Carla Chefin (203)",
		StartTime: time.Unix(1764000000, 0).UTC(), EndTime: time.Unix(1764000040, 0).UTC()}
	if *c.WaitTimeMs != 5000 || *c.TalkTimeMs != 35000 {
		t.Errorf("wait %d talk %d", *c.WaitTimeMs, *c.TalkTimeMs)
	}
	c.WaitTimeMs, c.TalkTimeMs = nil, nil
	if c != want {
		t.Errorf("got  %+v\nwant %+v", c, want)
	}
	// The other object's record of the same call: inbound.
	in := strings.NewReplacer(`dir="from"`, `dir="to"`, `e164="201"`, `e164="204"`, `cn="Anna Agent"`, `cn="Dora"`).Replace(innoTransfer)
	c, err = parseInnovaphoneCDR([]byte(in))
	if err != nil || c.Direction != archive.CDRInbound || c.CalleeNumber != "204" || c.CallerNumber != "202" {
		t.Fatalf("%v %+v", err, c)
	}
	for _, bad := range []string{
		``, `<cdr>`, `<other/>`, `<cdr dir="from"></cdr>`, innoTransfer + `<cdr/>`,
		strings.Replace(innoTransfer, `utc="1764000000"`, `utc="soon"`, 1),
		strings.Replace(innoTransfer, `time="170"`, `time="-1"`, 1),
		strings.Replace(innoTransfer, `cn="Anna Agent"`, `cn="`+strings.Repeat("a", 300)+`"`, 1),
	} {
		if _, err := parseInnovaphoneCDR([]byte(bad)); err == nil {
			t.Errorf("accepted %.60q", bad)
		}
	}
}

// TestInnovaphoneCDRRoute: the documented delivery forms — GET with the
// record URL-encoded in msg, a form POST, the XML as the body — store
// the same record once; the recording of the conference GUID shows it.
func TestInnovaphoneCDRRoute(t *testing.T) {
	e := newAPIEnv(t)
	pbx := e.integrationToken()
	doc := strings.Replace(innoTransfer, "c0nf0000111122223333444455556666", "guid-carol", 1)
	e.want(pbx, "GET", "/api/v1/cdr/innovaphone?event=syslog&msg="+url.QueryEscape(doc), nil, 201, `"created": true`)
	resp, body := e.callCT(pbx, "POST", "/api/v1/cdr/innovaphone", "application/x-www-form-urlencoded", "msg="+url.QueryEscape(doc))
	if resp != 200 || !strings.Contains(body, `"created": false`) {
		t.Fatalf("form post: %d %s", resp, body)
	}
	resp, body = e.callCT(pbx, "POST", "/api/v1/cdr/innovaphone", "text/xml", `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+doc)
	if resp != 200 {
		t.Fatalf("xml post: %d %s", resp, body)
	}
	e.want("carol", "GET", "/api/v1/recordings/"+e.recs["carol"].ID.String(), nil, 200, "Bernd Berater", `"referredTo": "Carla Chefin (203)"`, `"direction": "out"`)
	e.want(pbx, "POST", "/api/v1/cdr/innovaphone", "<cdr/>", 400, "conf")
	e.want("alice", "GET", "/api/v1/cdr/innovaphone?msg="+url.QueryEscape(doc), nil, 403)
}

func FuzzInnovaphoneCDR(f *testing.F) {
	f.Add([]byte(innoTransfer))
	f.Add([]byte(`<cdr dir="to" utc="1"><event conf="x" time="1"/><event msg="conn-to" time="0"/></cdr>`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		c, err := parseInnovaphoneCDR(doc)
		if err != nil {
			var he *httpError
			if !errors.As(err, &he) || he.code != 400 {
				t.Fatalf("error %v", err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("accepted but invalid: %v", err)
		}
	})
}

// TestInnovaphoneGETNeedsCredentials: the GET form stores a record, so a
// browser's session cookie does not do for it (a cross-site navigation
// carries the cookie and passes the cross-origin check); Basic does.
func TestInnovaphoneGETNeedsCredentials(t *testing.T) {
	e := newPlayEnv(t)
	doc := strings.Replace(innoTransfer, "c0nf0000111122223333444455556666", "guid-forged", 1)
	req, _ := http.NewRequest("GET", e.srv.URL+"/api/v1/cdr/innovaphone?msg="+url.QueryEscape(doc), nil)
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.Header.Set("Sec-Fetch-Mode", "navigate")
	resp, err := e.session("admin").Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET with the admin's session cookie: %d, want 401", resp.StatusCode)
	}
	if cdrs, err := e.arc.CDRs(t.Context(), "guid-forged"); err != nil || len(cdrs) != 0 {
		t.Fatalf("stored through a session: %d CDRs, %v", len(cdrs), err)
	}
	req, _ = http.NewRequest("GET", e.srv.URL+"/api/v1/cdr/innovaphone?msg="+url.QueryEscape(doc), nil)
	req.SetBasicAuth("admin", webtest.Password)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("GET with Basic credentials: %d, want 201", resp.StatusCode)
	}
	if cdrs, err := e.arc.CDRs(t.Context(), "guid-forged"); err != nil || len(cdrs) != 1 {
		t.Fatalf("after the Basic GET: %d CDRs, %v", len(cdrs), err)
	}
}
