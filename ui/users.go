package ui

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/callvault/callvault/archive"
)

type userRow struct {
	Login, Name, Email, Role string
	Extensions               string
	URL                      string
	Disabled, Seat           bool
	HasPassword              bool
}

type usersPage struct {
	Base
	Users []userRow
}

// userForm holds the fields of the user form.
type userForm struct {
	Login, Name, Email, Role string
	Extensions, AccessList   string
	Supervisor               string
	Seat                     bool
	MaySendLinks             bool
	MaySeeExternal           bool
	Disabled                 bool
	MayProtect               bool
	MaskDTMF                 bool
	DeletionMode             string // "" (form without it): unchanged
}

type userEditPage struct {
	Base
	New         bool
	Self        bool // the admin edits their own account
	Action      string
	DeleteURL   string
	F           userForm
	Roles       []string
	RoleLabels  map[string]string // Roles in words
	Supervisors []string
	Tokens      []tokenView
	TokenURL    string
	NewToken    string
	FormError   string
	// DeletionModes are the choices of F.DeletionMode (lifecycle.go).
	DeletionModes []deletionModeChoice
}

func (u *UI) userList(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	users, err := u.arc.Users(r.Context())
	if err != nil {
		return err
	}
	p := usersPage{Base: u.base(rc, rc.T("nav.users"), "users")}
	for _, x := range users {
		p.Users = append(p.Users, userRow{
			Login: x.Login, Name: x.Name, Email: x.Email, Role: roleLabel(rc, x.Role),
			Extensions: strings.Join(x.Extensions, ", "), URL: "/admin/users/" + urlPathEscape(x.Login),
			Disabled: x.Disabled, Seat: x.Seat, HasPassword: x.HasPassword,
		})
	}
	if r.URL.Query().Get("deleted") != "" {
		p.Flash = rc.T("msg.userDeleted")
	}
	u.render(w, r, http.StatusOK, "users.html", p)
	return nil
}

// splitList splits a list typed by a person (commas, semicolons,
// newlines), trimmed, without empties or duplicates.
func splitList(s string) []string {
	f := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' || r == '\n' || r == '\r' })
	var out []string
	for _, x := range f {
		x = strings.TrimSpace(x)
		if x != "" && !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

func formOf(x *archive.User) userForm {
	return userForm{
		Login: x.Login, Name: x.Name, Email: x.Email, Role: string(x.Role),
		Extensions: strings.Join(x.Extensions, ", "), AccessList: strings.Join(x.AccessList, ", "),
		Supervisor: x.Supervisor, Seat: x.Seat, MaySendLinks: x.MaySendLinks, MaySeeExternal: x.MaySeeExternal,
		Disabled: x.Disabled, MayProtect: x.MayProtect, DeletionMode: string(x.DeletionMode.Effective()),
		MaskDTMF: x.MaskDTMF,
	}
}

func readUserForm(r *http.Request) userForm {
	f := r.PostForm
	return userForm{
		Login: strings.TrimSpace(f.Get("login")), Name: strings.TrimSpace(f.Get("name")),
		Email: strings.TrimSpace(f.Get("email")), Role: f.Get("role"),
		Extensions: f.Get("extensions"), AccessList: f.Get("accessList"),
		Supervisor: strings.TrimSpace(f.Get("supervisor")),
		Seat:       f.Get("seat") == "on", MaySendLinks: f.Get("maySendLinks") == "on",
		MaySeeExternal: f.Get("maySeeExternal") == "on", Disabled: f.Get("disabled") == "on",
		MayProtect: f.Get("mayProtect") == "on", DeletionMode: f.Get("deletionMode"),
		MaskDTMF: f.Get("maskDtmf") == "on",
	}
}

// apply copies the form onto x, checking what the archive does not.
func (f userForm) apply(rc *reqCtx, x *archive.User, users []archive.User) string {
	role := archive.Role(f.Role)
	switch role {
	case archive.RoleUser, archive.RoleSupervisor, archive.RoleAdmin, archive.RoleIntegration:
	case archive.RoleIngest:
		if x.Role != archive.RoleIngest {
			return rc.T("msg.user.ingestRole")
		}
	default:
		return rc.T("msg.user.chooseRole")
	}
	if len(f.Name) > 200 || len(f.Email) > 200 {
		return rc.T("msg.user.nameLong")
	}
	if f.Email != "" && (!strings.Contains(f.Email, "@") || strings.ContainsAny(f.Email, " <>\"")) {
		return rc.T("msg.user.emailInvalid")
	}
	if f.Supervisor != "" {
		if strings.EqualFold(f.Supervisor, x.Login) {
			return rc.T("msg.user.ownSupervisor")
		}
		if !slices.ContainsFunc(users, func(s archive.User) bool { return s.Login == f.Supervisor }) {
			return rc.T("msg.user.supervisorUnknown")
		}
	}
	mode := archive.DeletionMode(f.DeletionMode)
	if !mode.Valid() {
		return rc.T("msg.user.chooseDeletionMode")
	}
	if mode != "" {
		x.DeletionMode = mode
	}
	x.DeletionMode = x.DeletionMode.Effective()
	x.MayProtect = f.MayProtect
	x.MaskDTMF = f.MaskDTMF
	x.Name, x.Email, x.Role = f.Name, f.Email, role
	x.Extensions, x.AccessList = splitList(f.Extensions), splitList(f.AccessList)
	x.Supervisor, x.Seat, x.MaySendLinks, x.MaySeeExternal, x.Disabled = f.Supervisor, f.Seat, f.MaySendLinks, f.MaySeeExternal, f.Disabled
	return ""
}

func (u *UI) userEditPage(r *http.Request, rc *reqCtx, f userForm, isNew bool, users []archive.User) (userEditPage, error) {
	p := userEditPage{
		New: isNew, F: f, Roles: []string{string(archive.RoleUser), string(archive.RoleSupervisor), string(archive.RoleAdmin), string(archive.RoleIntegration)},
		Self: !isNew && f.Login == rc.user.Login, DeletionModes: deletionModeChoices(rc),
	}
	if f.Role == string(archive.RoleIngest) {
		p.Roles = []string{string(archive.RoleIngest)}
	}
	p.RoleLabels = map[string]string{}
	for _, r := range p.Roles {
		p.RoleLabels[r] = roleLabel(rc, archive.Role(r))
	}
	for _, x := range users {
		if (x.Role == archive.RoleSupervisor || x.Role == archive.RoleAdmin) && x.Login != f.Login {
			p.Supervisors = append(p.Supervisors, x.Login)
		}
	}
	if isNew {
		p.Base = u.base(rc, rc.T("msg.title.newUser"), "users")
		p.Action = "/admin/users"
		return p, nil
	}
	p.Base = u.base(rc, rc.T("msg.title.user", f.Login), "users")
	esc := "/admin/users/" + urlPathEscape(f.Login)
	p.Action, p.DeleteURL, p.TokenURL = esc, esc+"/delete", esc+"/tokens"
	toks, err := u.tokenViews(r, rc, f.Login, esc+"/tokens")
	if err != nil {
		return p, err
	}
	p.Tokens = toks
	return p, nil
}

func (u *UI) userNew(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	users, err := u.arc.Users(r.Context())
	if err != nil {
		return err
	}
	p, err := u.userEditPage(r, rc, userForm{Role: string(archive.RoleUser), Seat: true, DeletionMode: string(archive.DeleteRecoverable)}, true, users)
	if err != nil {
		return err
	}
	u.render(w, r, http.StatusOK, "user_edit.html", p)
	return nil
}

// userFormError shows the form again with msg.
func (u *UI) userFormError(w http.ResponseWriter, r *http.Request, rc *reqCtx, f userForm, isNew bool, users []archive.User, msg string) error {
	p, err := u.userEditPage(r, rc, f, isNew, users)
	if err != nil {
		return err
	}
	p.FormError = msg
	u.render(w, r, http.StatusBadRequest, "user_edit.html", p)
	return nil
}

// userChangeDetail names the fields that differ, for the audit log (no
// values: they are personal data).
func userChangeDetail(a, b *archive.User) string {
	var d []string
	add := func(name string, changed bool) {
		if changed {
			d = append(d, name)
		}
	}
	add("name", a.Name != b.Name)
	add("email", a.Email != b.Email)
	add("role "+string(a.Role)+"→"+string(b.Role), a.Role != b.Role)
	add("extensions", !slices.Equal(a.Extensions, b.Extensions))
	add("access list", !slices.Equal(a.AccessList, b.AccessList))
	add("supervisor", a.Supervisor != b.Supervisor)
	add(fmt.Sprintf("seat=%t", b.Seat), a.Seat != b.Seat)
	add(fmt.Sprintf("may send links=%t", b.MaySendLinks), a.MaySendLinks != b.MaySendLinks)
	add(fmt.Sprintf("may see external=%t", b.MaySeeExternal), a.MaySeeExternal != b.MaySeeExternal)
	add(fmt.Sprintf("disabled=%t", b.Disabled), a.Disabled != b.Disabled)
	add(fmt.Sprintf("may protect=%t", b.MayProtect), a.MayProtect != b.MayProtect)
	add(fmt.Sprintf("mask DTMF=%t", b.MaskDTMF), a.MaskDTMF != b.MaskDTMF)
	add("deletion mode "+string(b.DeletionMode.Effective()), a.DeletionMode.Effective() != b.DeletionMode.Effective())
	return strings.Join(d, ", ")
}

func (u *UI) userCreate(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	ctx := r.Context()
	users, err := u.arc.Users(ctx)
	if err != nil {
		return err
	}
	f := readUserForm(r)
	pw, confirm := r.PostForm.Get("password"), r.PostForm.Get("confirm")
	if f.Login == "" || len(f.Login) > maxLoginField || strings.ContainsAny(f.Login, ":/\\ \t") {
		return u.userFormError(w, r, rc, f, true, users, rc.T("msg.user.loginInvalid"))
	}
	if slices.ContainsFunc(users, func(x archive.User) bool { return strings.EqualFold(x.Login, f.Login) }) {
		return u.userFormError(w, r, rc, f, true, users, rc.T("msg.user.exists"))
	}
	if msg := checkNewPassword(rc, pw, confirm); msg != "" {
		return u.userFormError(w, r, rc, f, true, users, msg)
	}
	x := archive.User{Login: f.Login}
	if msg := f.apply(rc, &x, users); msg != "" {
		return u.userFormError(w, r, rc, f, true, users, msg)
	}
	if err := u.arc.PutUser(ctx, x, pw); err != nil {
		if errors.Is(err, archive.ErrInvalid) {
			return u.userFormError(w, r, rc, f, true, users, rc.T("msg.user.invalid"))
		}
		return err
	}
	u.audit(r, rc, "user.create", x.Login, true, "role "+string(x.Role))
	redirect(w, r, "/admin/users/"+urlPathEscape(x.Login)+"?saved=1")
	return nil
}

// userAndAll loads user {login} and the list of all users its form offers
// as supervisors.
func (u *UI) userAndAll(r *http.Request) (*archive.User, []archive.User, error) {
	x, err := u.arc.GetUser(r.Context(), r.PathValue("login"))
	if err != nil {
		return nil, nil, err
	}
	users, err := u.arc.Users(r.Context())
	if err != nil {
		return nil, nil, err
	}
	return x, users, nil
}

func (u *UI) userEdit(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	x, users, err := u.userAndAll(r)
	if err != nil {
		return err
	}
	p, err := u.userEditPage(r, rc, formOf(x), false, users)
	if err != nil {
		return err
	}
	if r.URL.Query().Get("saved") != "" {
		p.Flash = rc.T("msg.saved")
	}
	u.render(w, r, http.StatusOK, "user_edit.html", p)
	return nil
}

func (u *UI) userUpdate(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	ctx := r.Context()
	old, users, err := u.userAndAll(r)
	if err != nil {
		return err
	}
	f := readUserForm(r)
	f.Login = old.Login
	pw, confirm := r.PostForm.Get("password"), r.PostForm.Get("confirm")
	if pw != "" || confirm != "" {
		if msg := checkNewPassword(rc, pw, confirm); msg != "" {
			return u.userFormError(w, r, rc, f, false, users, msg)
		}
	}
	dav, clearDav := r.PostForm.Get("webdavPassword"), r.PostForm.Get("webdavClear") != ""
	if dav != "" {
		if msg := checkNewPassword(rc, dav, dav); msg != "" {
			return u.userFormError(w, r, rc, f, false, users, rc.T("msg.user.webdav", msg))
		}
	}
	x := *old
	if msg := f.apply(rc, &x, users); msg != "" {
		return u.userFormError(w, r, rc, f, false, users, msg)
	}
	if old.Login == rc.user.Login && (x.Role != archive.RoleAdmin || x.Disabled) {
		return u.userFormError(w, r, rc, f, false, users, rc.T("msg.user.self"))
	}
	if err := u.arc.PutUser(ctx, x, pw); err != nil {
		if errors.Is(err, archive.ErrInvalid) {
			return u.userFormError(w, r, rc, f, false, users, rc.T("msg.user.invalid"))
		}
		return err
	}
	detail := userChangeDetail(old, &x)
	if dav != "" || clearDav {
		if err := u.arc.SetWebDAVPassword(ctx, x.Login, dav); err != nil {
			return err
		}
		detail = strings.TrimPrefix(detail+", webdav password "+map[bool]string{true: "set", false: "removed"}[dav != ""], ", ")
	}
	if pw != "" {
		detail = strings.TrimPrefix(detail+", password set", ", ")
		keep := ""
		if old.Login == rc.user.Login {
			keep = rc.session
		}
		if _, err := u.arc.DeleteSessions(ctx, old.Login, keep); err != nil {
			return err
		}
	}
	if x.Disabled && !old.Disabled {
		if _, err := u.arc.DeleteSessions(ctx, old.Login, ""); err != nil {
			return err
		}
	}
	u.audit(r, rc, "user.change", x.Login, true, detail)
	redirect(w, r, "/admin/users/"+urlPathEscape(x.Login)+"?saved=1")
	return nil
}

func (u *UI) userDelete(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	login := r.PathValue("login")
	if login == rc.user.Login {
		return &pageError{code: http.StatusBadRequest, msg: "msg.youCannotDeleteYour"}
	}
	x, err := u.arc.GetUser(r.Context(), login)
	if err != nil {
		return err
	}
	if err := u.arc.DeleteUser(r.Context(), x.Login); err != nil {
		return err
	}
	u.audit(r, rc, "user.delete", x.Login, true, "")
	redirect(w, r, "/admin/users?deleted=1")
	return nil
}

func (u *UI) userTokenCreate(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	ctx := r.Context()
	x, err := u.arc.GetUser(ctx, r.PathValue("login"))
	if err != nil {
		return err
	}
	return u.tokenCreated(w, r, rc, x.Login, "user_edit.html", func(token string) (any, error) {
		users, err := u.arc.Users(ctx)
		if err != nil {
			return nil, err
		}
		p, err := u.userEditPage(r, rc, formOf(x), false, users)
		p.NewToken, p.Flash = token, rc.T("msg.tokenCreated")
		return p, err
	})
}

func (u *UI) userTokenRevoke(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	x, err := u.arc.GetUser(r.Context(), r.PathValue("login"))
	if err != nil {
		return err
	}
	id := r.PathValue("token")
	if err := u.arc.RevokeToken(r.Context(), x.Login, id); err != nil {
		return err
	}
	u.audit(r, rc, "token.revoke", x.Login, true, "token "+id)
	redirect(w, r, "/admin/users/"+urlPathEscape(x.Login)+"?saved=1")
	return nil
}
