package ui

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/callvault/callvault/archive"
)

// minPasswordLen is the shortest password the UI accepts: the appliance's
// one rule.
const minPasswordLen = archive.MinPasswordLen

type tokenView struct {
	ID, Label, Created, LastUsed string
	RevokeURL                    string
}

type accountPage struct {
	Base
	Login, Name, Email, Role string
	Extensions, AccessList   string
	Tokens                   []tokenView
	TokenURL                 string // where the create-token form posts
	NewToken                 string // shown once, right after creation
	PasswordError            string
	Language                 string // the account's choice, "" for the browser's
	Languages                []languageChoice
}

// languageChoice is one language on the account page's switch.
type languageChoice struct{ Code, Name string }

func (u *UI) tokenViews(r *http.Request, rc *reqCtx, login, prefix string) ([]tokenView, error) {
	toks, err := u.arc.Tokens(r.Context(), login)
	if err != nil {
		return nil, err
	}
	out := make([]tokenView, 0, len(toks))
	for _, t := range toks {
		lu := rc.when(t.LastUsed)
		if lu == "" {
			lu = rc.T("msg.never")
		}
		out = append(out, tokenView{
			ID: t.ID, Label: t.Label, Created: rc.when(t.Created), LastUsed: lu,
			RevokeURL: prefix + "/" + urlPathEscape(t.ID) + "/revoke",
		})
	}
	return out, nil
}

func (u *UI) accountPage(r *http.Request, rc *reqCtx) (accountPage, error) {
	usr, err := u.arc.GetUser(r.Context(), rc.user.Login)
	if err != nil {
		return accountPage{}, err
	}
	toks, err := u.tokenViews(r, rc, usr.Login, "/account/tokens")
	if err != nil {
		return accountPage{}, err
	}
	return accountPage{
		Base:  u.base(rc, rc.T("msg.title.account"), "account"),
		Login: usr.Login, Name: usr.Name, Email: usr.Email, Role: roleLabel(rc, usr.Role),
		Language: usr.Language, Languages: languageChoices(),
		Extensions: strings.Join(usr.Extensions, ", "), AccessList: strings.Join(usr.AccessList, ", "),
		Tokens: toks, TokenURL: "/account/tokens",
	}, nil
}

func (u *UI) accountShow(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	p, err := u.accountPage(r, rc)
	if err != nil {
		return err
	}
	if r.URL.Query().Get("changed") == "1" {
		p.Flash = rc.T("msg.passwordChanged")
	}
	if r.URL.Query().Get("language") == "1" {
		p.Flash = rc.T("msg.languageChanged")
	}
	u.render(w, r, http.StatusOK, "account.html", p)
	return nil
}

// checkNewPassword returns a message for a password that is not
// acceptable, or "".
func checkNewPassword(rc *reqCtx, pw, confirm string) string {
	switch {
	case utf8.RuneCountInString(pw) < minPasswordLen:
		return rc.T("msg.passwordShort", minPasswordLen)
	case len(pw) > maxPasswordField:
		return rc.T("msg.passwordLong")
	case pw != confirm:
		return rc.T("msg.passwordsDiffer")
	}
	return ""
}

func (u *UI) accountPassword(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	cur := r.PostForm.Get("current")
	pw, confirm := r.PostForm.Get("new"), r.PostForm.Get("confirm")
	fail := func(code int, msg string) error {
		p, err := u.accountPage(r, rc)
		if err != nil {
			return err
		}
		p.PasswordError = msg
		u.render(w, r, code, "account.html", p)
		return nil
	}
	if msg := checkNewPassword(rc, pw, confirm); msg != "" {
		return fail(http.StatusBadRequest, msg)
	}
	usr, limited, err := u.reauthenticate(w, r, rc, cur)
	if limited != "" {
		return fail(http.StatusTooManyRequests, limited)
	}
	if err != nil {
		if !errors.Is(err, archive.ErrBadCredentials) {
			return err
		}
		u.audit(r, rc, "password.change", rc.user.Login, false, "wrong current password")
		return fail(http.StatusBadRequest, rc.T("msg.currentPasswordWrong"))
	}
	if err := u.arc.PutUser(r.Context(), *usr, pw); err != nil {
		return err
	}
	// Other sessions of this login end: whoever knew the old password
	// is logged out everywhere else.
	if _, err := u.arc.DeleteSessions(r.Context(), usr.Login, rc.session); err != nil {
		return err
	}
	u.audit(r, rc, "password.change", rc.user.Login, true, "")
	redirect(w, r, "/account?changed=1")
	return nil
}

// maxTokenLabel bounds a token's label.
const maxTokenLabel = 100

// createToken creates an API token for login with the form's label and
// audits it; the token is shown once, by the caller's page.
func (u *UI) createToken(r *http.Request, rc *reqCtx, login string) (string, error) {
	label := strings.TrimSpace(r.PostForm.Get("label"))
	if label == "" || len(label) > maxTokenLabel {
		return "", &pageError{code: http.StatusBadRequest, msg: "msg.tokenNeedsLabelMost"}
	}
	token, info, err := u.arc.CreateToken(r.Context(), login, label)
	if err != nil {
		return "", err
	}
	u.audit(r, rc, "token.create", login, true, "token "+info.ID+" "+label)
	return token, nil
}

// tokenCreated creates a token for login (createToken) and renders tmpl
// with the page that page builds around it; the page shows the token once.
func (u *UI) tokenCreated(w http.ResponseWriter, r *http.Request, rc *reqCtx, login, tmpl string, page func(token string) (any, error)) error {
	token, err := u.createToken(r, rc, login)
	if err != nil {
		return err
	}
	p, err := page(token)
	if err != nil {
		return err
	}
	u.render(w, r, http.StatusOK, tmpl, p)
	return nil
}

func (u *UI) accountTokenCreate(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	return u.tokenCreated(w, r, rc, rc.user.Login, "account.html", func(token string) (any, error) {
		p, err := u.accountPage(r, rc)
		p.NewToken, p.Flash = token, rc.T("msg.tokenCreated")
		return p, err
	})
}

func (u *UI) accountTokenRevoke(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	id := r.PathValue("token")
	if err := u.arc.RevokeToken(r.Context(), rc.user.Login, id); err != nil {
		return err
	}
	u.audit(r, rc, "token.revoke", rc.user.Login, true, "token "+id)
	redirect(w, r, "/account")
	return nil
}

// reauthenticate checks the viewer's own password again before a change
// that asks for it. limited is the page's message when failed attempts
// have locked the login for now (Retry-After is set); err is
// archive.ErrBadCredentials for a wrong password.
func (u *UI) reauthenticate(w http.ResponseWriter, r *http.Request, rc *reqCtx, password string) (usr *archive.User, limited string, err error) {
	usr, err = u.arc.Authenticate(r.Context(), archive.ClientAddr(r.RemoteAddr), rc.user.Login, password)
	var le *archive.LimitedError
	if errors.As(err, &le) {
		w.Header().Set("Retry-After", itoa(le.RetrySeconds()))
		return nil, rc.T("msg.tooManyAttempts", waitText(rc, le.RetryAfter)), nil
	}
	return usr, "", err
}

// languageChoices are the account page's languages, in their own names.
func languageChoices() []languageChoice {
	out := make([]languageChoice, 0, len(uiLanguages))
	for _, l := range uiLanguages {
		out = append(out, languageChoice{Code: l, Name: languageNames[l]})
	}
	return out
}

// accountLanguage stores the language the person chose for the pages (""
// for the browser's) and shows the account page in it.
func (u *UI) accountLanguage(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	lang := r.PostForm.Get("language")
	if lang != "" && !slices.Contains(uiLanguages, lang) {
		return &pageError{code: http.StatusBadRequest, msg: "msg.unknownLanguage"}
	}
	if err := u.arc.SetUserLanguage(r.Context(), rc.user.Login, lang); err != nil {
		return err
	}
	redirect(w, r, "/account?language=1")
	return nil
}

// roleLabel is a role in words.
func roleLabel(rc *reqCtx, role archive.Role) string {
	switch role {
	case archive.RoleAdmin:
		return rc.T("msg.role.admin")
	case archive.RoleSupervisor:
		return rc.T("msg.role.supervisor")
	case archive.RoleUser:
		return rc.T("msg.role.user")
	case archive.RoleIngest:
		return rc.T("msg.role.ingest")
	case archive.RoleIntegration:
		return rc.T("msg.role.integration")
	}
	return string(role)
}
