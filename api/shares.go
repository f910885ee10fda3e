package api

import (
	"net/http"
	"strings"
	"time"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/share"
)

// SetShares lets the API send and list links through s (external links to
// the playback zone and internal links to the UI). Until it is set the
// routes of links answer 503.
func (a *API) SetShares(s *share.Service) { a.shares = s }

// shareRoutes adds the routes of secure links.
func (a *API) shareRoutes(mux *http.ServeMux) {
	mux.Handle("POST /api/v1/shares", a.wrap(a.shareCreate))
	mux.Handle("GET /api/v1/shares", a.wrap(a.shareList))
	mux.Handle("POST /api/v1/shares/{id}/cancel", a.wrap(a.shareCancel))
	mux.Handle("POST /api/v1/internal-links", a.wrap(a.internalLinkCreate))
}

// shareMaxBody bounds the request bodies of links: 40 ids, a reason and a
// mail body of at most 32 KiB fit.
const shareMaxBody = apiMaxBody

// shareRequest is the body of POST /api/v1/shares. Omitted subject, body,
// language and days take the configured defaults (share.Config).
type shareRequest struct {
	Recordings       []string `json:"recordings"`
	RecipientName    string   `json:"recipientName"`
	RecipientEmail   string   `json:"recipientEmail"`
	Reason           string   `json:"reason"`
	Days             *int     `json:"days"`
	Subject          *string  `json:"subject"`
	Body             *string  `json:"body"`
	Language         *string  `json:"language"`
	ShowAccessNumber bool     `json:"showAccessNumber"`
	ShowQueueName    bool     `json:"showQueueName"`
}

// internalLinkRequest is the body of POST /api/v1/internal-links.
type internalLinkRequest struct {
	Recordings []string `json:"recordings"`
	Recipient  string   `json:"recipient"`
	Subject    *string  `json:"subject"`
	Body       *string  `json:"body"`
}

// decodeShareRequest reads a POST /api/v1/shares body strictly.
func decodeShareRequest(w http.ResponseWriter, r *http.Request) (*shareRequest, error) {
	req := new(shareRequest)
	if err := decodeJSON(w, r, shareMaxBody, req); err != nil {
		return nil, err
	}
	if len(req.Recordings) > share.MaxRecordings {
		return nil, errStatus(http.StatusBadRequest, "at most 40 recordings per link")
	}
	return req, nil
}

// decodeInternalLinkRequest reads a POST /api/v1/internal-links body
// strictly.
func decodeInternalLinkRequest(w http.ResponseWriter, r *http.Request) (*internalLinkRequest, error) {
	req := new(internalLinkRequest)
	if err := decodeJSON(w, r, shareMaxBody, req); err != nil {
		return nil, err
	}
	if len(req.Recordings) > share.MaxRecordings {
		return nil, errStatus(http.StatusBadRequest, "at most 40 recordings per link")
	}
	return req, nil
}

// sendRequest fills the omitted fields of req from the configuration c.
func (req *shareRequest) sendRequest(c *share.Config) share.SendRequest {
	out := share.SendRequest{Recordings: req.Recordings, RecipientName: req.RecipientName, RecipientEmail: req.RecipientEmail,
		Reason: req.Reason, Days: c.Days, Subject: c.SubjectExternal, Body: c.BodyExternal, Language: c.Language,
		ShowAccessNumber: req.ShowAccessNumber, ShowQueueName: req.ShowQueueName}
	if req.Days != nil {
		out.Days = *req.Days
	}
	if req.Subject != nil {
		out.Subject = *req.Subject
	}
	if req.Body != nil {
		out.Body = *req.Body
	}
	if req.Language != nil {
		out.Language = *req.Language
	}
	return out
}

func (a *API) sharesReady() error {
	if a.shares == nil {
		return errStatus(http.StatusServiceUnavailable, "links are not available on this appliance")
	}
	return nil
}

// mayManageShares allows the log of links and cancelling to admins and
// to users who may see the external access page.
func mayManageShares(u *archive.User) error {
	if u.Role == archive.RoleAdmin || u.MaySeeExternal {
		return nil
	}
	return errStatus(http.StatusForbidden, "only admins and users who may see the external access page")
}

type shareCreated struct {
	ID        string    `json:"id"`
	ExpiresAt time.Time `json:"expiresAt"`
	Status    string    `json:"status"`
}

// shareCreate is POST /api/v1/shares: an external link, mailed to the
// recipient (share.Send audits it as "share.send").
func (a *API) shareCreate(w http.ResponseWriter, r *http.Request, u *archive.User) error {
	if err := a.sharesReady(); err != nil {
		return err
	}
	if err := a.fourEyesHeld(u); err != nil {
		return err
	}
	req, err := decodeShareRequest(w, r)
	if err != nil {
		return err
	}
	cfg, err := a.shares.Config(r.Context())
	if err != nil {
		return err
	}
	g, err := a.shares.Send(r.Context(), u, sourceIP(r), req.sendRequest(cfg))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, shareCreated{ID: g.ID, ExpiresAt: g.ExpiresAt, Status: g.Status})
	return nil
}

type shareEntry struct {
	ID             string     `json:"id"`
	RecipientEmail string     `json:"recipientEmail"`
	RecipientName  string     `json:"recipientName"`
	Sender         string     `json:"sender"`
	Reason         string     `json:"reason"`
	Recordings     []string   `json:"recordings"`
	CreatedAt      time.Time  `json:"createdAt"`
	ExpiresAt      time.Time  `json:"expiresAt"`
	Status         string     `json:"status"`
	CancelledBy    string     `json:"cancelledBy,omitempty"`
	CancelledAt    *time.Time `json:"cancelledAt,omitempty"`
	MailStatus     string     `json:"mailStatus,omitempty"`
	MailError      string     `json:"mailError,omitempty"`
}

// shareList is GET /api/v1/shares: the log of external links, newest
// first.
func (a *API) shareList(w http.ResponseWriter, r *http.Request, u *archive.User) error {
	if err := a.sharesReady(); err != nil {
		return err
	}
	if err := mayManageShares(u); err != nil {
		return err
	}
	q := r.URL.Query()
	text := strings.TrimSpace(q.Get("q"))
	if len(text) > 200 {
		return errStatus(http.StatusBadRequest, "q too long")
	}
	es, err := a.shares.List(r.Context(), share.Query{Q: text, Status: q.Get("status")})
	if err != nil {
		return err
	}
	out := struct {
		Shares []shareEntry `json:"shares"`
	}{Shares: make([]shareEntry, 0, len(es))}
	for _, e := range es {
		se := shareEntry{ID: e.ID, RecipientEmail: e.RecipientEmail, RecipientName: e.RecipientName, Sender: e.Sender,
			Reason: e.Reason, Recordings: e.Recordings, CreatedAt: e.CreatedAt, ExpiresAt: e.ExpiresAt, Status: e.Status,
			CancelledBy: e.CancelledBy, MailStatus: e.MailStatus, MailError: e.MailError}
		if se.Recordings == nil {
			se.Recordings = []string{}
		}
		if !e.CancelledAt.IsZero() {
			at := e.CancelledAt
			se.CancelledAt = &at
		}
		out.Shares = append(out.Shares, se)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// shareCancel is POST /api/v1/shares/{id}/cancel: the link's copies and
// key are destroyed at once (audited as "share.cancel").
func (a *API) shareCancel(w http.ResponseWriter, r *http.Request, u *archive.User) error {
	if err := a.sharesReady(); err != nil {
		return err
	}
	if err := mayManageShares(u); err != nil {
		return err
	}
	if err := a.shares.Cancel(r.Context(), u, sourceIP(r), r.PathValue("id")); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"id": r.PathValue("id"), "status": share.StatusCancelled})
	return nil
}

// internalLinkCreate is POST /api/v1/internal-links: a link mailed to an
// archive user that opens the recordings in the UI under their own
// rights (audited as "share.internal").
func (a *API) internalLinkCreate(w http.ResponseWriter, r *http.Request, u *archive.User) error {
	if err := a.sharesReady(); err != nil {
		return err
	}
	if err := a.fourEyesHeld(u); err != nil {
		return err
	}
	req, err := decodeInternalLinkRequest(w, r)
	if err != nil {
		return err
	}
	cfg, err := a.shares.Config(r.Context())
	if err != nil {
		return err
	}
	ir := share.InternalRequest{Recordings: req.Recordings, Recipient: req.Recipient, Subject: cfg.SubjectInternal, Body: cfg.BodyInternal}
	if req.Subject != nil {
		ir.Subject = *req.Subject
	}
	if req.Body != nil {
		ir.Body = *req.Body
	}
	id, err := a.shares.SendInternal(r.Context(), u, sourceIP(r), ir)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]string{"id": id})
	return nil
}
