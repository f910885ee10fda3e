package api

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/callvault/callvault/archive"
)

// The innovaphone PBX sends one XML <cdr> per call and PBX object
// through its CDR0/CDR1 interfaces (innovaphone wiki, "Concept Call
// Detail Record CDR PBX"; SDK doc/pbx/cdr.htm). Over HTTP it sends
// either a GET to the configured path with the URL-encoded record in the
// parameter msg, or a POST. This route takes all three forms: GET ?msg=,
// a form POST with msg, and the XML itself as the body.
//
// The mapping, from the documented attributes:
//
//	callId        the conf attribute of the first event that has one: the
//	              conference GUID that the recording's file name carries
//	direction     dir="from" (the call came from the object) → outbound,
//	              dir="to" → inbound; cf/ct (diverted, transferred) → none
//	object        e164/cn of <cdr> (the PBX user, the agent: agentId h323)
//	other party   e164 and dn of the first alert/conn event that has them
//	startTime     utc (ctime seconds)
//	wait, talk    from the events' time (seconds): first conn/connected
//	              minus the first event, last event minus the first conn
//	referredTo    e164 (and dn) of <to> inside a transfer-to event
const innovaphoneMaxBody = 64 << 10

func (a *API) innovaphoneRoutes(mux *http.ServeMux) {
	mux.Handle("POST /api/v1/cdr/innovaphone", a.wrapIntegration(a.innovaphoneCDR))
	mux.Handle("GET /api/v1/cdr/innovaphone", a.wrapIntegration(a.innovaphoneCDR))
}

func (a *API) innovaphoneCDR(w http.ResponseWriter, r *http.Request, u *archive.User) error {
	if u.Role != archive.RoleIntegration && u.Role != archive.RoleAdmin {
		return errStatus(http.StatusForbidden, "integration accounts and admins only")
	}
	var doc []byte
	if r.Method == http.MethodGet {
		// A GET that stores a record must carry its credentials: a
		// browser sends the UI's session cookie (SameSite=Lax) on a
		// cross-site navigation, and the cross-origin check lets GET by.
		if r.Header.Get("Authorization") == "" {
			return errStatus(http.StatusUnauthorized, "authentication required: the GET form takes Basic or Bearer credentials, not a session")
		}
		doc = []byte(r.URL.Query().Get("msg"))
	} else {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, innovaphoneMaxBody))
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return errStatus(http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is larger than %d bytes", innovaphoneMaxBody))
			}
			return errStatus(http.StatusBadRequest, "the body could not be read")
		}
		doc = body
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/x-www-form-urlencoded" {
			v, err := url.ParseQuery(string(body))
			if err != nil {
				return errStatus(http.StatusBadRequest, "the form is not valid")
			}
			doc = []byte(v.Get("msg"))
		}
	}
	if len(bytes.TrimSpace(doc)) == 0 {
		return errStatus(http.StatusBadRequest, "no <cdr> document (body, or parameter msg)")
	}
	c, err := parseInnovaphoneCDR(doc)
	if err != nil {
		return err
	}
	return a.putCDR(w, r, c)
}

type innoCDR struct {
	XMLName xml.Name    `xml:"cdr"`
	E164    string      `xml:"e164,attr"`
	CN      string      `xml:"cn,attr"`
	H323    string      `xml:"h323,attr"`
	Dir     string      `xml:"dir,attr"`
	UTC     string      `xml:"utc,attr"`
	Events  []innoEvent `xml:"event"`
}

type innoEvent struct {
	Msg  string `xml:"msg,attr"`
	Time string `xml:"time,attr"`
	E164 string `xml:"e164,attr"`
	DN   string `xml:"dn,attr"`
	H323 string `xml:"h323,attr"`
	Conf string `xml:"conf,attr"`
	To   *struct {
		E164 string `xml:"e164,attr"`
		DN   string `xml:"dn,attr"`
	} `xml:"to"`
}

// parseInnovaphoneCDR maps one innovaphone <cdr> document to a CDR; the
// error is a 400 that names the problem.
func parseInnovaphoneCDR(doc []byte) (archive.CDR, error) {
	var c archive.CDR
	var in innoCDR
	dec := xml.NewDecoder(bytes.NewReader(doc))
	dec.Strict = true
	if err := dec.Decode(&in); err != nil {
		return c, errStatus(http.StatusBadRequest, "the body is not an innovaphone <cdr> document")
	}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return c, errStatus(http.StatusBadRequest, "the body is not an innovaphone <cdr> document")
		}
		if cd, ok := tok.(xml.CharData); !ok || len(bytes.TrimSpace(cd)) != 0 {
			if _, ok := tok.(xml.Comment); !ok {
				return c, errStatus(http.StatusBadRequest, "the body must hold exactly one <cdr> document")
			}
		}
	}
	for _, e := range in.Events {
		if e.Conf != "" {
			c.CallID = e.Conf
			break
		}
	}
	if c.CallID == "" {
		return c, errStatus(http.StatusBadRequest, "the <cdr> has no event with a conf attribute (the call's conference GUID)")
	}
	var remoteNum, remoteName string
	for _, e := range in.Events {
		if strings.HasPrefix(e.Msg, "alert-") || strings.HasPrefix(e.Msg, "conn-") || e.Msg == "connected" {
			if remoteNum == "" {
				remoteNum = e.E164
			}
			if remoteName == "" {
				remoteName = e.DN
			}
		}
	}
	if remoteNum == "" { // setup-to / setup-from carry the number dialled or calling
		for _, e := range in.Events {
			if strings.HasPrefix(e.Msg, "setup-") && e.E164 != "" {
				remoteNum = e.E164
				break
			}
		}
	}
	c.AgentID, c.AgentName = in.H323, in.CN
	switch in.Dir {
	case "from":
		c.Direction = archive.CDROutbound
		c.CallerNumber, c.CallerName = in.E164, in.CN
		c.CalleeNumber, c.CalleeName = remoteNum, remoteName
	case "to":
		c.Direction = archive.CDRInbound
		c.CalleeNumber, c.CalleeName = in.E164, in.CN
		c.CallerNumber, c.CallerName = remoteNum, remoteName
	default:
		c.CallerNumber, c.CallerName = in.E164, in.CN
		c.CalleeNumber, c.CalleeName = remoteNum, remoteName
	}
	if in.UTC != "" {
		sec, err := strconv.ParseInt(in.UTC, 10, 64)
		if err != nil || sec < 0 || sec > 253402300799 {
			return c, errStatus(http.StatusBadRequest, `attribute "utc" must be seconds since 1970`)
		}
		c.StartTime = time.Unix(sec, 0).UTC()
	}
	first, conn, last := -1, -1, -1
	for _, e := range in.Events {
		if e.Time == "" {
			continue
		}
		t, err := strconv.Atoi(e.Time)
		if err != nil || t < 0 || t > 31*24*3600 {
			return c, errStatus(http.StatusBadRequest, `attribute "time" of an event must be whole seconds`)
		}
		if first < 0 {
			first = t
		}
		if conn < 0 && (strings.HasPrefix(e.Msg, "conn-") || e.Msg == "connected") {
			conn = t
		}
		last = max(last, t)
		if e.Msg == "transfer-to" && e.To != nil && c.ReferredTo == "" {
			c.ReferredTo = strings.TrimSpace(e.To.DN + " " + e.To.E164)
			if e.To.DN != "" && e.To.E164 != "" {
				c.ReferredTo = e.To.DN + " (" + e.To.E164 + ")"
			}
		}
	}
	if first >= 0 && conn >= first {
		wait, talk := int64(conn-first)*1000, int64(last-conn)*1000
		c.WaitTimeMs, c.TalkTimeMs = &wait, &talk
	}
	if first >= 0 && !c.StartTime.IsZero() {
		c.EndTime = c.StartTime.Add(time.Duration(last-first) * time.Second)
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
