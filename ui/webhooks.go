package ui

import (
	"errors"
	"net/http"
	"strings"

	"github.com/callvault/callvault/webhook"
)

// webhookRoutes adds the admin pages of webhooks.
func (u *UI) webhookRoutes(mux *http.ServeMux) {
	mux.Handle("GET /admin/webhooks", u.page(admin, u.webhookList))
	mux.Handle("POST /admin/webhooks", u.page(admin, u.webhookCreate))
	mux.Handle("GET /admin/webhooks/{id}", u.page(admin, u.webhookShow))
	mux.Handle("POST /admin/webhooks/{id}", u.page(admin, u.webhookUpdate))
	mux.Handle("POST /admin/webhooks/{id}/enable", u.page(admin, u.webhookEnable))
	mux.Handle("POST /admin/webhooks/{id}/delete", u.page(admin, u.webhookDelete))
}

type webhookRow struct {
	ID, URL, Users, AnswerGroups string
	Enabled                      bool
	DisabledReason, DisabledAt   string
	Pending                      int
}

type webhookAttemptRow struct {
	Time, Delivery, CallID, Status, Error, Next string
	Code                                        int
}

type webhooksPage struct {
	Base
	Rows []webhookRow
	Form webhookForm
}

type webhookPage struct {
	Base
	Hook     webhookRow
	Form     webhookForm
	Attempts []webhookAttemptRow
}

// webhookForm is what the create and edit forms hold; the secret is never
// filled in.
type webhookForm struct {
	URL, Users, AnswerGroups string
	Enabled                  bool
}

func (u *UI) hooks() (*webhook.Service, error) {
	if u.opts.Webhooks == nil {
		return nil, &pageError{code: http.StatusNotFound, msg: "msg.webhooksNotAvailableAppliance"}
	}
	return u.opts.Webhooks, nil
}

// hookErr shows the service's refusals as they are.
func hookErr(err error) error {
	var we *webhook.Error
	if errors.As(err, &we) {
		if we == webhook.ErrNotFound {
			return &pageError{code: we.Status, msg: "msg.thereNoSuchWebhook"}
		}
		return &pageError{code: we.Status, msg: "msg.webhook.refused", args: []any{we.Msg}}
	}
	return err
}

func (u *UI) webhookRow(rc *reqCtx, h *webhook.Webhook) webhookRow {
	row := webhookRow{ID: h.ID, URL: h.URL, Users: strings.Join(h.Users, ", "), AnswerGroups: strings.Join(h.AnswerGroups, ", "),
		Enabled: h.Enabled, DisabledReason: h.DisabledReason, Pending: h.Pending}
	if !h.DisabledAt.IsZero() {
		row.DisabledAt = rc.whenMinute(h.DisabledAt)
	}
	return row
}

func (u *UI) webhookList(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	s, err := u.hooks()
	if err != nil {
		return err
	}
	return u.renderWebhooks(w, r, rc, s, webhookForm{Enabled: true}, "", http.StatusOK)
}

func (u *UI) renderWebhooks(w http.ResponseWriter, r *http.Request, rc *reqCtx, s *webhook.Service, f webhookForm, msg string, code int) error {
	hs, err := s.List(r.Context())
	if err != nil {
		return err
	}
	p := webhooksPage{Base: u.base(rc, rc.T("nav.webhooks"), "webhooks"), Form: f}
	p.Error = msg
	for i := range hs {
		p.Rows = append(p.Rows, u.webhookRow(rc, &hs[i]))
	}
	if r.URL.Query().Get("deleted") != "" {
		p.Flash = rc.T("msg.webhook.deleted")
	}
	u.render(w, r, code, "webhooks.html", p)
	return nil
}

func formInput(r *http.Request) (*webhook.Input, webhookForm) {
	f := webhookForm{URL: strings.TrimSpace(r.PostFormValue("url")), Users: r.PostFormValue("users"),
		AnswerGroups: r.PostFormValue("answerGroups"), Enabled: r.PostFormValue("enabled") != ""}
	users, groups := append([]string{}, splitList(f.Users)...), append([]string{}, splitList(f.AnswerGroups)...)
	in := &webhook.Input{URL: &f.URL, Users: &users, AnswerGroups: &groups, Enabled: &f.Enabled}
	if sec := r.PostFormValue("secret"); sec != "" {
		in.Secret = &sec
	}
	return in, f
}

func (u *UI) webhookCreate(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	s, err := u.hooks()
	if err != nil {
		return err
	}
	in, f := formInput(r)
	h, err := s.Create(r.Context(), in)
	var we *webhook.Error
	if errors.As(err, &we) {
		return u.renderWebhooks(w, r, rc, s, f, rc.T("msg.webhook.refused", we.Msg), we.Status)
	}
	if err != nil {
		return err
	}
	u.audit(r, rc, "webhook.create", "webhook:"+h.ID, true, h.URL+"; secret set")
	http.Redirect(w, r, "/admin/webhooks/"+h.ID+"?saved=1", http.StatusSeeOther)
	return nil
}

func (u *UI) webhookShow(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	s, err := u.hooks()
	if err != nil {
		return err
	}
	return u.renderWebhook(w, r, rc, s, nil, "", http.StatusOK)
}

func (u *UI) renderWebhook(w http.ResponseWriter, r *http.Request, rc *reqCtx, s *webhook.Service, f *webhookForm, msg string, code int) error {
	id := r.PathValue("id")
	h, err := s.Get(r.Context(), id)
	if errors.Is(err, webhook.ErrNotFound) {
		return &pageError{code: http.StatusNotFound, msg: "msg.thereNoSuchWebhook"}
	}
	if err != nil {
		return err
	}
	as, err := s.Attempts(r.Context(), id, 100)
	if err != nil {
		return hookErr(err)
	}
	p := webhookPage{Base: u.base(rc, rc.T("msg.webhook.title"), "webhooks"), Hook: u.webhookRow(rc, h)}
	p.Form = webhookForm{URL: h.URL, Users: p.Hook.Users, AnswerGroups: p.Hook.AnswerGroups, Enabled: h.Enabled}
	if f != nil {
		p.Form = *f
	}
	p.Error = msg
	for _, a := range as {
		row := webhookAttemptRow{Time: rc.when(a.Time), Delivery: a.Delivery, CallID: a.CallID,
			Status: attemptStatus(rc, a.Status), Error: a.Error, Code: a.Code}
		if !a.Next.IsZero() {
			row.Next = rc.when(a.Next)
		}
		p.Attempts = append(p.Attempts, row)
	}
	switch {
	case r.URL.Query().Get("saved") != "":
		p.Flash = rc.T("msg.saved")
	case r.URL.Query().Get("enabled") != "":
		p.Flash = rc.T("msg.webhook.enabled")
	}
	u.render(w, r, code, "webhook.html", p)
	return nil
}

func (u *UI) webhookUpdate(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	s, err := u.hooks()
	if err != nil {
		return err
	}
	in, f := formInput(r)
	h, err := s.Update(r.Context(), r.PathValue("id"), in)
	var we *webhook.Error
	if errors.As(err, &we) && we.Status != http.StatusNotFound {
		return u.renderWebhook(w, r, rc, s, &f, rc.T("msg.webhook.refused", we.Msg), we.Status)
	}
	if err != nil {
		return hookErr(err)
	}
	detail := h.URL
	if in.Secret != nil {
		detail += "; secret set"
	}
	u.audit(r, rc, "webhook.update", "webhook:"+h.ID, true, detail)
	http.Redirect(w, r, "/admin/webhooks/"+h.ID+"?saved=1", http.StatusSeeOther)
	return nil
}

func (u *UI) webhookEnable(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	s, err := u.hooks()
	if err != nil {
		return err
	}
	h, err := s.Enable(r.Context(), r.PathValue("id"))
	if err != nil {
		return hookErr(err)
	}
	u.audit(r, rc, "webhook.enable", "webhook:"+h.ID, true, h.URL)
	http.Redirect(w, r, "/admin/webhooks/"+h.ID+"?enabled=1", http.StatusSeeOther)
	return nil
}

func (u *UI) webhookDelete(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	s, err := u.hooks()
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	if err := s.Delete(r.Context(), id); err != nil {
		return hookErr(err)
	}
	u.audit(r, rc, "webhook.delete", "webhook:"+id, true, "")
	http.Redirect(w, r, "/admin/webhooks?deleted=1", http.StatusSeeOther)
	return nil
}

// attemptStatus is a delivery attempt's status in words.
func attemptStatus(rc *reqCtx, s string) string {
	switch s {
	case "delivered":
		return rc.T("msg.webhook.delivered")
	case "dropped":
		return rc.T("msg.webhook.dropped")
	case "failed":
		return rc.T("msg.webhook.failed")
	}
	return s
}
