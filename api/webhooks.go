package api

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/webhook"
)

// SetWebhooks lets admins manage webhooks through w. Until it is set the
// routes of webhooks answer 503.
func (a *API) SetWebhooks(w *webhook.Service) { a.hooks = w }

// webhookRoutes adds the routes of webhooks (admins only).
func (a *API) webhookRoutes(mux *http.ServeMux) {
	mux.Handle("GET /api/v1/webhooks", a.wrap(a.hook(a.webhookList)))
	mux.Handle("POST /api/v1/webhooks", a.wrap(a.hook(a.webhookCreate)))
	mux.Handle("GET /api/v1/webhooks/{id}", a.wrap(a.hook(a.webhookShow)))
	mux.Handle("PUT /api/v1/webhooks/{id}", a.wrap(a.hook(a.webhookUpdate)))
	mux.Handle("DELETE /api/v1/webhooks/{id}", a.wrap(a.hook(a.webhookDelete)))
	mux.Handle("POST /api/v1/webhooks/{id}/enable", a.wrap(a.hook(a.webhookEnable)))
	mux.Handle("GET /api/v1/webhooks/{id}/attempts", a.wrap(a.hook(a.webhookAttempts)))
}

// hook checks that webhooks are available and the caller is an admin,
// and maps the service's refusals to their status.
func (a *API) hook(h appFunc) appFunc {
	return func(w http.ResponseWriter, r *http.Request, u *archive.User) error {
		if a.hooks == nil {
			return errStatus(http.StatusServiceUnavailable, "webhooks are not available on this appliance")
		}
		if err := requireAdmin(u); err != nil {
			return err
		}
		err := h(w, r, u)
		var we *webhook.Error
		if errors.As(err, &we) {
			return errStatus(we.Status, we.Msg)
		}
		return err
	}
}

// webhookEntry is a webhook as the API shows it: never its secret.
type webhookEntry struct {
	ID             string     `json:"id"`
	URL            string     `json:"url"`
	HasSecret      bool       `json:"hasSecret"`
	Users          []string   `json:"users"`
	AnswerGroups   []string   `json:"answerGroups"`
	Enabled        bool       `json:"enabled"`
	DisabledReason string     `json:"disabledReason,omitempty"`
	DisabledAt     *time.Time `json:"disabledAt,omitempty"`
	Created        time.Time  `json:"created"`
	Updated        time.Time  `json:"updated"`
	Pending        int        `json:"pending"`
}

func newWebhookEntry(h *webhook.Webhook) webhookEntry {
	e := webhookEntry{ID: h.ID, URL: h.URL, HasSecret: true, Users: h.Users, AnswerGroups: h.AnswerGroups, Enabled: h.Enabled,
		DisabledReason: h.DisabledReason, Created: h.Created, Updated: h.Updated, Pending: h.Pending}
	if e.Users == nil {
		e.Users = []string{}
	}
	if e.AnswerGroups == nil {
		e.AnswerGroups = []string{}
	}
	if !h.DisabledAt.IsZero() {
		t := h.DisabledAt
		e.DisabledAt = &t
	}
	return e
}

func (a *API) webhookList(w http.ResponseWriter, r *http.Request, u *archive.User) error {
	hs, err := a.hooks.List(r.Context())
	if err != nil {
		return err
	}
	out := struct {
		Webhooks []webhookEntry `json:"webhooks"`
	}{Webhooks: make([]webhookEntry, 0, len(hs))}
	for i := range hs {
		out.Webhooks = append(out.Webhooks, newWebhookEntry(&hs[i]))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) webhookShow(w http.ResponseWriter, r *http.Request, u *archive.User) error {
	h, err := a.hooks.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newWebhookEntry(h))
	return nil
}

// webhookInput reads a webhook's JSON body.
func webhookInput(w http.ResponseWriter, r *http.Request) (*webhook.Input, error) {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return nil, errStatus(http.StatusUnsupportedMediaType, "the body must be application/json")
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	if err != nil {
		return nil, errStatus(http.StatusRequestEntityTooLarge, "the body is too large")
	}
	return webhook.ParseInput(b)
}

// webhookDetail is the audit detail of a change: the URL and the fields
// set, never the secret.
func webhookDetail(h *webhook.Webhook, in *webhook.Input) string {
	d := h.URL
	if in != nil && in.Secret != nil {
		d += "; secret set"
	}
	return d
}

func (a *API) webhookCreate(w http.ResponseWriter, r *http.Request, u *archive.User) error {
	in, err := webhookInput(w, r)
	if err != nil {
		return err
	}
	h, err := a.hooks.Create(r.Context(), in)
	if err != nil {
		return err
	}
	if err := a.auditEvent(r.Context(), r, u, "webhook.create", "webhook:"+h.ID, true, webhookDetail(h, in)); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, newWebhookEntry(h))
	return nil
}

func (a *API) webhookUpdate(w http.ResponseWriter, r *http.Request, u *archive.User) error {
	in, err := webhookInput(w, r)
	if err != nil {
		return err
	}
	h, err := a.hooks.Update(r.Context(), r.PathValue("id"), in)
	if err != nil {
		return err
	}
	if err := a.auditEvent(r.Context(), r, u, "webhook.update", "webhook:"+h.ID, true, webhookDetail(h, in)); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newWebhookEntry(h))
	return nil
}

func (a *API) webhookEnable(w http.ResponseWriter, r *http.Request, u *archive.User) error {
	h, err := a.hooks.Enable(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := a.auditEvent(r.Context(), r, u, "webhook.enable", "webhook:"+h.ID, true, h.URL); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newWebhookEntry(h))
	return nil
}

func (a *API) webhookDelete(w http.ResponseWriter, r *http.Request, u *archive.User) error {
	id := r.PathValue("id")
	if err := a.hooks.Delete(r.Context(), id); err != nil {
		return err
	}
	if err := a.auditEvent(r.Context(), r, u, "webhook.delete", "webhook:"+id, true, ""); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) webhookAttempts(w http.ResponseWriter, r *http.Request, u *archive.User) error {
	limit := 0
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return errStatus(http.StatusBadRequest, "limit must be a positive number")
		}
		limit = n
	}
	as, err := a.hooks.Attempts(r.Context(), r.PathValue("id"), limit)
	if err != nil {
		return err
	}
	if as == nil {
		as = []webhook.Attempt{}
	}
	writeJSON(w, http.StatusOK, struct {
		Attempts []webhook.Attempt `json:"attempts"`
	}{as})
	return nil
}
