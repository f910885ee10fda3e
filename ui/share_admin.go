package ui

import (
	"encoding/base64"
	"errors"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/internal/webcore"
	"github.com/callvault/callvault/share"
)

type linkPage struct {
	Base
	Sender string
	Sent   string
	Rows   []listRow
	Hidden int // recordings of the link the viewer may not read
}

// internalLinkShow is an internal link as its recipient sees it: the
// recordings the recipient may read, each linking to its page. Anyone
// else finds no link.
func (u *UI) internalLinkShow(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	s, err := u.shares()
	if err != nil {
		return err
	}
	notFound := &pageError{code: http.StatusNotFound, msg: "msg.thereNoSuchLink"}
	l, err := s.InternalLink(r.Context(), r.PathValue("id"))
	var se *share.Error
	if errors.As(err, &se) && se.Status == http.StatusNotFound {
		return notFound
	}
	if err != nil {
		return err
	}
	if !strings.EqualFold(l.Recipient, rc.user.Login) {
		return notFound
	}
	users, err := u.arc.Users(r.Context())
	if err != nil {
		return err
	}
	idx := webcore.UserIndex(users)
	p := linkPage{Base: u.base(rc, rc.T("links.title"), "recordings"), Sender: webcore.OwnerName(idx, l.Sender),
		Sent: rc.whenMinute(l.CreatedAt)}
	if p.Sender == "" {
		p.Sender = l.Sender
	}
	for _, s := range l.Recordings {
		id, err := archive.ParseID(s)
		if err != nil {
			p.Hidden++
			continue
		}
		rec, err := u.arc.Get(r.Context(), id)
		if errors.Is(err, archive.ErrNotFound) || (err == nil && !u.opts.FourEyes.MayRead(rc.user, rec)) {
			p.Hidden++
			continue
		}
		if err != nil {
			return err
		}
		p.Rows = append(p.Rows, u.listRow(rc, &group{segs: []*archive.Recording{rec}}, idx))
	}
	u.render(w, r, http.StatusOK, "links.html", p)
	return nil
}

// externalCheck refuses those who may not see the External access page.
func (u *UI) externalCheck(rc *reqCtx) (*share.Service, error) {
	s, err := u.shares()
	if err != nil {
		return nil, err
	}
	if !mayExternal(rc.user) {
		return nil, &pageError{code: http.StatusForbidden, msg: "msg.pageForAdministratorsUsers"}
	}
	return s, nil
}

type externalRow struct {
	ID, Recipient, Email, Sender, Reason string
	Recordings                           []recLink
	Created, Expires                     string
	Status                               string
	StatusText                           string
	MailFailed                           bool
	MailStatus, MailError                string
	CancelURL                            string
}

type recLink struct{ ID, URL string }

type externalPage struct {
	Base
	Tab       string
	Q, Status string
	Rows      []externalRow
	Filtered  bool
	Admin     bool
}

func (u *UI) externalRow(e share.Entry, rc *reqCtx) externalRow {
	row := externalRow{ID: e.ID, Recipient: e.RecipientName, Email: e.RecipientEmail, Sender: e.Sender, Reason: e.Reason,
		Created: rc.whenMinute(e.CreatedAt), Expires: rc.whenMinute(e.ExpiresAt),
		Status: e.Status, MailStatus: e.MailStatus, MailError: e.MailError, MailFailed: e.MailStatus == "failed"}
	for _, id := range e.Recordings {
		row.Recordings = append(row.Recordings, recLink{id, "/recordings/" + url.PathEscape(id)})
	}
	switch e.Status {
	case share.StatusValid:
		row.StatusText = rc.T("msg.ext.valid")
		row.CancelURL = "/external/" + url.PathEscape(e.ID) + "/cancel"
	case share.StatusExpired:
		row.StatusText = rc.T("msg.ext.expired")
	case share.StatusCancelled:
		row.StatusText = rc.T("msg.ext.cancelledBy", e.CancelledBy, rc.whenMinute(e.CancelledAt))
	}
	return row
}

func (u *UI) externalLog(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	s, err := u.externalCheck(rc)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	p := externalPage{Base: u.base(rc, rc.T("nav.external"), "external"), Tab: "log", Q: strings.TrimSpace(q.Get("q")),
		Status: q.Get("status"), Admin: rc.user.Role == archive.RoleAdmin}
	if len(p.Q) > 200 {
		return &pageError{code: http.StatusBadRequest, msg: "msg.searchTextTooLong"}
	}
	switch p.Status {
	case "", share.StatusValid, share.StatusExpired, share.StatusCancelled:
	default:
		p.Status = ""
	}
	p.Filtered = p.Q != "" || p.Status != ""
	entries, err := s.List(r.Context(), share.Query{Q: p.Q, Status: p.Status})
	if err != nil {
		return err
	}
	for _, e := range entries {
		p.Rows = append(p.Rows, u.externalRow(e, rc))
	}
	if q.Get("cancelled") != "" {
		p.Flash = rc.T("msg.ext.cancelled")
	}
	u.render(w, r, http.StatusOK, "share_external.html", p)
	return nil
}

type cancelPage struct {
	Base
	Row externalRow
}

// entry finds the log entry id.
func entry(r *http.Request, s *share.Service, id string) (*share.Entry, error) {
	if id == "" || len(id) > 64 {
		return nil, &pageError{code: http.StatusNotFound, msg: "msg.thereNoSuchLink"}
	}
	entries, err := s.List(r.Context(), share.Query{})
	if err != nil {
		return nil, err
	}
	for i := range entries {
		if entries[i].ID == id {
			return &entries[i], nil
		}
	}
	return nil, &pageError{code: http.StatusNotFound, msg: "msg.thereNoSuchLink"}
}

func (u *UI) externalCancelForm(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	s, err := u.externalCheck(rc)
	if err != nil {
		return err
	}
	e, err := entry(r, s, r.PathValue("id"))
	if err != nil {
		return err
	}
	u.render(w, r, http.StatusOK, "share_cancel.html", cancelPage{Base: u.base(rc, rc.T("ext.cancelTitle"), "external"), Row: u.externalRow(*e, rc)})
	return nil
}

// externalCancel cancels a link once the form confirms it; without the
// confirmation it shows the question.
func (u *UI) externalCancel(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	s, err := u.externalCheck(rc)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	if r.PostForm.Get("confirm") != "yes" {
		return u.externalCancelForm(w, r, rc)
	}
	if _, err := entry(r, s, id); err != nil {
		return err
	}
	if err := s.Cancel(r.Context(), rc.user, remoteAddr(r), id); err != nil {
		return err
	}
	redirect(w, r, "/external?cancelled=1")
	return nil
}

// configForm is the External access config form's values.
type configForm struct {
	Footer          string
	Terms           []termsField
	SessionMinutes  string
	Days            string
	SubjectExternal string
	BodyExternal    string
	SubjectInternal string
	BodyInternal    string
	From            string
	Language        string
}

type termsField struct {
	Code, Name, Text string
}

type configPage struct {
	Base
	Tab       string
	Admin     bool
	F         configForm
	Logo      template.URL // a data: URL of the stored logo, checked PNG or JPEG
	HasLogo   bool
	Languages []langOption
	MaxLogoKB int
	FormError string
}

func configFormOf(c *share.Config) configForm {
	f := configForm{Footer: strings.Join(c.Footer, "\n"), SessionMinutes: strconv.Itoa(int(c.SessionLifetime / time.Minute)),
		Days: strconv.Itoa(c.Days), SubjectExternal: c.SubjectExternal, BodyExternal: c.BodyExternal,
		SubjectInternal: c.SubjectInternal, BodyInternal: c.BodyInternal, From: c.From, Language: c.Language}
	for _, l := range share.Languages {
		f.Terms = append(f.Terms, termsField{l, share.LanguageName(l), c.Terms[l]})
	}
	return f
}

func (u *UI) configPage(rc *reqCtx, c *share.Config, f configForm) configPage {
	p := configPage{Base: u.base(rc, rc.T("nav.external"), "external"), Tab: "config", Admin: true, F: f, MaxLogoKB: share.MaxLogo >> 10}
	for _, l := range share.Languages {
		p.Languages = append(p.Languages, langOption{l, share.LanguageName(l)})
	}
	if t := share.LogoType(c.Logo); t != "" {
		p.HasLogo = true
		p.Logo = template.URL("data:" + t + ";base64," + base64.StdEncoding.EncodeToString(c.Logo))
	}
	return p
}

func (u *UI) externalConfigShow(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	s, err := u.shares()
	if err != nil {
		return err
	}
	c, err := s.Config(r.Context())
	if err != nil {
		return err
	}
	p := u.configPage(rc, c, configFormOf(c))
	if r.URL.Query().Get("saved") != "" {
		p.Flash = rc.T("msg.cfg.saved")
	}
	u.render(w, r, http.StatusOK, "share_config.html", p)
	return nil
}

// splitLines is the non-empty lines of s, trimmed.
func splitLines(s string) []string {
	var out []string
	for l := range strings.Lines(s) {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func (u *UI) externalConfigSave(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	s, err := u.shares()
	if err != nil {
		return err
	}
	old, err := s.Config(r.Context())
	if err != nil {
		return err
	}
	pf := r.PostForm
	nl := func(k string) string { return strings.ReplaceAll(pf.Get(k), "\r\n", "\n") }
	f := configForm{Footer: nl("footer"), SessionMinutes: strings.TrimSpace(pf.Get("sessionMinutes")), Days: strings.TrimSpace(pf.Get("days")),
		SubjectExternal: pf.Get("subjectExternal"), BodyExternal: nl("bodyExternal"), SubjectInternal: pf.Get("subjectInternal"),
		BodyInternal: nl("bodyInternal"), From: strings.TrimSpace(pf.Get("from")), Language: pf.Get("language")}
	c := share.Config{Logo: old.Logo, Footer: splitLines(f.Footer), Terms: map[string]string{}, SubjectExternal: f.SubjectExternal,
		BodyExternal: f.BodyExternal, SubjectInternal: f.SubjectInternal, BodyInternal: f.BodyInternal, From: f.From, Language: f.Language}
	for _, l := range share.Languages {
		t := nl("terms_" + l)
		f.Terms = append(f.Terms, termsField{l, share.LanguageName(l), t})
		if strings.TrimSpace(t) != "" {
			c.Terms[l] = t
		}
	}
	refuse := func(msg string) error {
		p := u.configPage(rc, old, f)
		p.FormError = msg
		u.render(w, r, http.StatusUnprocessableEntity, "share_config.html", p)
		return nil
	}
	mins, err := strconv.Atoi(f.SessionMinutes)
	if err != nil {
		return refuse(rc.T("msg.cfg.session"))
	}
	c.SessionLifetime = time.Duration(mins) * time.Minute
	if c.Days, err = strconv.Atoi(f.Days); err != nil {
		return refuse(rc.T("msg.cfg.days"))
	}
	if pf.Get("removeLogo") == "on" {
		c.Logo = nil
	}
	if r.MultipartForm != nil {
		if fhs := r.MultipartForm.File["logo"]; len(fhs) > 0 && fhs[0].Size > 0 {
			if fhs[0].Size > share.MaxLogo {
				return refuse(rc.T("msg.share.logoSize", share.MaxLogo>>10))
			}
			fl, err := fhs[0].Open()
			if err != nil {
				return err
			}
			b, err := io.ReadAll(io.LimitReader(fl, share.MaxLogo+1))
			fl.Close()
			if err != nil {
				return err
			}
			c.Logo = b
		}
	}
	if err := s.SetConfig(r.Context(), rc.user, remoteAddr(r), c); err != nil {
		if msg, ok := formMsg(rc, err); ok {
			return refuse(msg)
		}
		return err
	}
	redirect(w, r, "/external/config?saved=1")
	return nil
}

type outboxRow struct {
	Kind, To, From, Subject, Body string
	Status                        string
	Attempts                      int
	Queued, Done                  string
	Error                         string
}

type outboxPage struct {
	Base
	Rows []outboxRow
}

// outboxShow lists the queued and sent mail; share masks one-time codes.
func (u *UI) outboxShow(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	s, err := u.shares()
	if err != nil {
		return err
	}
	mails, err := s.Outbox(r.Context())
	if err != nil {
		return err
	}
	p := outboxPage{Base: u.base(rc, rc.T("nav.outbox"), "outbox")}
	for _, m := range mails {
		to := m.To
		if m.ToName != "" {
			to = m.ToName + " <" + m.To + ">"
		}
		row := outboxRow{Kind: mailKind(rc, m.Kind), To: to, From: m.From, Subject: m.Subject, Body: m.Body, Status: mailStatus(rc, m.Status),
			Attempts: m.Attempts, Queued: rc.whenMinute(m.Queued), Error: m.Error}
		if !m.Done.IsZero() {
			row.Done = rc.whenMinute(m.Done)
		}
		p.Rows = append(p.Rows, row)
	}
	u.render(w, r, http.StatusOK, "share_outbox.html", p)
	return nil
}

// mailKind is an outbox mail's kind in words.
func mailKind(rc *reqCtx, kind string) string {
	switch kind {
	case "link":
		return rc.T("msg.mail.link")
	case "internal":
		return rc.T("msg.mail.internal")
	case "code":
		return rc.T("msg.mail.code")
	}
	return kind
}

// mailStatus is an outbox mail's status in words.
func mailStatus(rc *reqCtx, status string) string {
	switch status {
	case share.MailQueued:
		return rc.T("msg.mail.queued")
	case share.MailSent:
		return rc.T("msg.mail.sent")
	case share.MailFailed:
		return rc.T("msg.mail.failed")
	}
	return status
}
