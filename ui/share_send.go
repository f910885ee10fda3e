package ui

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/share"
)

// sendForm is the external send form's values.
type sendForm struct {
	RecipientName, RecipientEmail, Reason string
	Days                                  string
	Subject, Body                         string
	Language                              string
	ShowAccessNumber, ShowQueueName       bool
}

type langOption struct{ Code, Name string }

type shareNewPage struct {
	Base
	selection
	F         sendForm
	From      string
	Languages []langOption
	Until     string // the end for the form's days, as shown
	Today     string // yyyy-mm-dd in the zone: the script's base for Until
	Zone      string
	MaxDays   int
	FormError string
}

// sendLanguages are the languages that have terms of use.
func sendLanguages(c *share.Config) []langOption {
	var out []langOption
	for _, l := range share.Languages {
		if strings.TrimSpace(c.Terms[l]) != "" {
			out = append(out, langOption{l, share.LanguageName(l)})
		}
	}
	return out
}

func (u *UI) shareNewPage(r *http.Request, rc *reqCtx, cfg *share.Config, sel selection, f sendForm) shareNewPage {
	now := u.opts.Now()
	p := shareNewPage{Base: u.base(rc, rc.T("share.new.title"), "recordings"), selection: sel, F: f,
		From: u.opts.Shares.From(cfg), Languages: sendLanguages(cfg), Today: now.In(rc.loc).Format("2006-01-02"), Zone: zoneName(rc),
		MaxDays: share.MaxDays}
	if d, err := strconv.Atoi(f.Days); err == nil && d >= 0 && d <= share.MaxDays {
		p.Until = untilText(endOfDay(now, d, rc.loc), rc)
	}
	return p
}

func (u *UI) shareNewForm(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	_, cfg, err := u.senderCheck(r, rc)
	if err != nil {
		return err
	}
	f := sendForm{Days: strconv.Itoa(cfg.Days), Subject: cfg.SubjectExternal, Body: cfg.BodyExternal, Language: cfg.Language}
	sel, err := u.loadSelection(r, rc, r.URL.Query()["r"])
	p := u.shareNewPage(r, rc, cfg, sel, f)
	if msg, ok := formMsg(rc, err); ok {
		p.Error = msg
		p.Rows = nil
		u.render(w, r, http.StatusBadRequest, "share_new.html", p)
		return nil
	} else if err != nil {
		return err
	}
	u.render(w, r, http.StatusOK, "share_new.html", p)
	return nil
}

func (u *UI) shareNewSubmit(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	s, cfg, err := u.senderCheck(r, rc)
	if err != nil {
		return err
	}
	pf := r.PostForm
	f := sendForm{RecipientName: strings.TrimSpace(pf.Get("recipientName")), RecipientEmail: strings.TrimSpace(pf.Get("recipientEmail")),
		Reason: strings.TrimSpace(pf.Get("reason")), Days: strings.TrimSpace(pf.Get("days")), Subject: pf.Get("subject"),
		Body: strings.ReplaceAll(pf.Get("body"), "\r\n", "\n"), Language: pf.Get("language"),
		ShowAccessNumber: pf.Get("showAccessNumber") == "on", ShowQueueName: pf.Get("showQueueName") == "on"}
	sel, err := u.loadSelection(r, rc, pf["r"])
	refuse := func(msg string) error {
		p := u.shareNewPage(r, rc, cfg, sel, f)
		p.FormError = msg
		u.render(w, r, http.StatusUnprocessableEntity, "share_new.html", p)
		return nil
	}
	if msg, ok := formMsg(rc, err); ok {
		sel.Rows = nil
		return refuse(msg)
	} else if err != nil {
		return err
	}
	days, err := strconv.Atoi(f.Days)
	if err != nil {
		return refuse(rc.T("msg.share.days", share.MaxDays))
	}
	g, err := s.Send(r.Context(), rc.user, remoteAddr(r), share.SendRequest{Recordings: sel.IDs, RecipientName: f.RecipientName,
		RecipientEmail: f.RecipientEmail, Reason: f.Reason, Days: days, Subject: f.Subject, Body: f.Body, Language: f.Language,
		ShowAccessNumber: f.ShowAccessNumber, ShowQueueName: f.ShowQueueName})
	if msg, ok := formMsg(rc, err); ok {
		return refuse(msg)
	} else if err != nil {
		return err
	}
	u.render(w, r, http.StatusOK, "share_sent.html", shareSentPage{Base: u.base(rc, rc.T("share.sent.title"), "recordings"),
		To: f.RecipientName + " <" + strings.ToLower(f.RecipientEmail) + ">", Count: len(sel.IDs), Until: untilText(g.ExpiresAt, rc),
		External: true, LogURL: externalLogURL(rc.user, g.ID)})
	return nil
}

type shareSentPage struct {
	Base
	To       string
	Count    int
	Until    string
	External bool
	LogURL   string // the External access log, for those who may see it
}

func externalLogURL(usr *archive.User, id string) string {
	if !mayExternal(usr) {
		return ""
	}
	return "/external?q=" + url.QueryEscape(id)
}

// internalForm is the internal send form's values.
type internalForm struct {
	Recipient, Subject, Body string
}

type recipientOption struct{ Login, Label string }

type shareInternalPage struct {
	Base
	selection
	F          internalForm
	Recipients []recipientOption
	FormError  string
}

func (u *UI) shareInternalPage(r *http.Request, rc *reqCtx, sel selection, f internalForm) (shareInternalPage, error) {
	p := shareInternalPage{Base: u.base(rc, rc.T("share.internal.title"), "recordings"), selection: sel, F: f}
	users, err := u.arc.Users(r.Context())
	if err != nil {
		return p, err
	}
	for _, x := range users {
		if x.Disabled || x.Email == "" || x.Role == archive.RoleIngest {
			continue
		}
		label := x.Login
		if x.Name != "" {
			label = x.Name + " (" + x.Login + ")"
		}
		p.Recipients = append(p.Recipients, recipientOption{x.Login, label})
	}
	return p, nil
}

func (u *UI) shareInternalForm(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	_, cfg, err := u.senderCheck(r, rc)
	if err != nil {
		return err
	}
	sel, serr := u.loadSelection(r, rc, r.URL.Query()["r"])
	p, err := u.shareInternalPage(r, rc, sel, internalForm{Subject: cfg.SubjectInternal, Body: cfg.BodyInternal})
	if err != nil {
		return err
	}
	if msg, ok := formMsg(rc, serr); ok {
		p.Error, p.Rows = msg, nil
		u.render(w, r, http.StatusBadRequest, "share_internal.html", p)
		return nil
	} else if serr != nil {
		return serr
	}
	u.render(w, r, http.StatusOK, "share_internal.html", p)
	return nil
}

func (u *UI) shareInternalSubmit(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	s, _, err := u.senderCheck(r, rc)
	if err != nil {
		return err
	}
	pf := r.PostForm
	f := internalForm{Recipient: pf.Get("recipient"), Subject: pf.Get("subject"), Body: strings.ReplaceAll(pf.Get("body"), "\r\n", "\n")}
	sel, serr := u.loadSelection(r, rc, pf["r"])
	refuse := func(msg string) error {
		p, err := u.shareInternalPage(r, rc, sel, f)
		if err != nil {
			return err
		}
		p.FormError = msg
		u.render(w, r, http.StatusUnprocessableEntity, "share_internal.html", p)
		return nil
	}
	if msg, ok := formMsg(rc, serr); ok {
		sel.Rows = nil
		return refuse(msg)
	} else if serr != nil {
		return serr
	}
	if f.Recipient == "" {
		return refuse(rc.T("msg.share.chooseUser"))
	}
	_, err = s.SendInternal(r.Context(), rc.user, remoteAddr(r), share.InternalRequest{Recordings: sel.IDs, Recipient: f.Recipient,
		Subject: f.Subject, Body: f.Body})
	if msg, ok := formMsg(rc, err); ok {
		return refuse(msg)
	} else if err != nil {
		return err
	}
	to := f.Recipient
	if x, err := u.arc.GetUser(r.Context(), f.Recipient); err == nil && x.Name != "" {
		to = x.Name + " (" + x.Login + ")"
	}
	u.render(w, r, http.StatusOK, "share_sent.html", shareSentPage{Base: u.base(rc, rc.T("share.sent.title"), "recordings"), To: to, Count: len(sel.IDs)})
	return nil
}
