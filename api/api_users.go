package api

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/callvault/callvault/archive"
)

// apiUser is a user as the JSON API shows it (never a password hash).
type apiUser struct {
	Login          string    `json:"login"`
	Name           string    `json:"name"`
	Email          string    `json:"email"`
	Role           string    `json:"role"`
	Extensions     []string  `json:"extensions"`
	AccessList     []string  `json:"accessList"`
	Supervisor     string    `json:"supervisor"`
	Seat           bool      `json:"seat"`
	MaySendLinks   bool      `json:"maySendLinks"`
	MaySeeExternal bool      `json:"maySeeExternal"`
	MayProtect     bool      `json:"mayProtect"`
	DeletionMode   string    `json:"deletionMode"`
	MaskDTMF       bool      `json:"maskDtmf"`
	Disabled       bool      `json:"disabled"`
	HasPassword    bool      `json:"hasPassword"`
	Created        time.Time `json:"created"`
	Updated        time.Time `json:"updated"`
}

func toAPIUser(u *archive.User) apiUser {
	nz := func(s []string) []string {
		if s == nil {
			return []string{}
		}
		return s
	}
	return apiUser{
		Login: u.Login, Name: u.Name, Email: u.Email, Role: string(u.Role),
		Extensions: nz(u.Extensions), AccessList: nz(u.AccessList), Supervisor: u.Supervisor,
		Seat: u.Seat, MaySendLinks: u.MaySendLinks, MaySeeExternal: u.MaySeeExternal,
		MayProtect: u.MayProtect, DeletionMode: string(u.DeletionMode.Effective()), MaskDTMF: u.MaskDTMF,
		Disabled: u.Disabled, HasPassword: u.HasPassword, Created: u.Created, Updated: u.Updated,
	}
}

// apiUserCreate is the body of POST /api/v1/users.
type apiUserCreate struct {
	Login          string   `json:"login"`
	Password       string   `json:"password"`
	Name           string   `json:"name"`
	Email          string   `json:"email"`
	Role           string   `json:"role"`
	Extensions     []string `json:"extensions"`
	AccessList     []string `json:"accessList"`
	Supervisor     string   `json:"supervisor"`
	Seat           bool     `json:"seat"`
	MaySendLinks   bool     `json:"maySendLinks"`
	MaySeeExternal bool     `json:"maySeeExternal"`
	MayProtect     bool     `json:"mayProtect"`
	DeletionMode   string   `json:"deletionMode"`
	MaskDTMF       bool     `json:"maskDtmf"`
	Disabled       bool     `json:"disabled"`
}

// apiUserPatch is the body of PATCH /api/v1/users/{login}: absent fields
// stay as they are. Users who are not admins may send only password and
// currentPassword, for themselves.
type apiUserPatch struct {
	Login           *string   `json:"login"`
	Password        *string   `json:"password"`
	CurrentPassword *string   `json:"currentPassword"`
	Name            *string   `json:"name"`
	Email           *string   `json:"email"`
	Role            *string   `json:"role"`
	Extensions      *[]string `json:"extensions"`
	AccessList      *[]string `json:"accessList"`
	Supervisor      *string   `json:"supervisor"`
	Seat            *bool     `json:"seat"`
	MaySendLinks    *bool     `json:"maySendLinks"`
	MaySeeExternal  *bool     `json:"maySeeExternal"`
	MayProtect      *bool     `json:"mayProtect"`
	DeletionMode    *string   `json:"deletionMode"`
	MaskDTMF        *bool     `json:"maskDtmf"`
	Disabled        *bool     `json:"disabled"`
	// WebDAVPassword sets the password this user gives WebDAV clients
	// instead of the account password; "" removes it. Admins only.
	WebDAVPassword *string `json:"webdavPassword"`
}

// adminFields reports whether the patch touches anything but the password.
func (p *apiUserPatch) adminFields() bool {
	return p.Name != nil || p.Email != nil || p.Role != nil || p.Extensions != nil || p.AccessList != nil ||
		p.Supervisor != nil || p.Seat != nil || p.MaySendLinks != nil || p.MaySeeExternal != nil || p.Disabled != nil ||
		p.WebDAVPassword != nil || p.MayProtect != nil || p.DeletionMode != nil || p.MaskDTMF != nil
}

// targetLogin resolves {login}; "me" is the caller.
func targetLogin(r *http.Request, u *archive.User) string {
	l := r.PathValue("login")
	if l == "me" {
		return u.Login
	}
	return l
}

// selfOrAdmin allows admins everything and others only themselves.
func selfOrAdmin(u *archive.User, login string) error {
	if u.Role == archive.RoleAdmin || login == u.Login {
		return nil
	}
	return errStatus(http.StatusForbidden, "admins only")
}

// cleanList trims entries and drops empty and duplicate ones.
func cleanList(in []string) []string {
	out := make([]string, 0, len(in))
	for _, s := range in {
		if s = strings.TrimSpace(s); s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func checkPassword(pw string) error {
	if n := utf8.RuneCountInString(pw); n < apiMinPassword {
		return errStatus(http.StatusBadRequest, "password must have at least 10 characters")
	}
	if len(pw) > 1024 {
		return errStatus(http.StatusBadRequest, "password is longer than 1024 bytes")
	}
	return nil
}

// checkUser validates what archive.PutUser would refuse, with messages
// for the client, and that the supervisor exists.
func (a *API) checkUser(r *http.Request, nu *archive.User) error {
	switch archive.Role(nu.Role) {
	case archive.RoleAdmin, archive.RoleSupervisor, archive.RoleUser, archive.RoleIngest, archive.RoleIntegration:
	default:
		return errStatus(http.StatusBadRequest, "role must be user, supervisor, admin, ingest or integration")
	}
	if nu.Supervisor != "" {
		if strings.EqualFold(nu.Supervisor, nu.Login) { // logins compare without case
			return errStatus(http.StatusBadRequest, "a user cannot be their own supervisor")
		}
		if _, err := a.arc.GetUser(r.Context(), nu.Supervisor); err != nil {
			if errors.Is(err, archive.ErrNotFound) {
				return errStatus(http.StatusBadRequest, "supervisor: no such user")
			}
			return err
		}
	}
	if nu.DeletionMode == "" || !nu.DeletionMode.Valid() {
		return errStatus(http.StatusBadRequest, msgDeletionMode)
	}
	if nu.Email != "" && (!strings.Contains(nu.Email, "@") || strings.ContainsAny(nu.Email, " \t\r\n<>")) {
		return errStatus(http.StatusBadRequest, "email is not an address")
	}
	return nil
}

// lastAdmin reports whether login is the only enabled admin.
func (a *API) lastAdmin(r *http.Request, login string) (bool, error) {
	users, err := a.arc.Users(r.Context())
	if err != nil {
		return false, err
	}
	n, self := 0, false
	for _, x := range users {
		if x.Role == archive.RoleAdmin && !x.Disabled {
			n++
			self = self || x.Login == login
		}
	}
	return self && n == 1, nil
}

func (a *API) userList(w http.ResponseWriter, r *http.Request, u *archive.User) error {
	if err := requireAdmin(u); err != nil {
		return err
	}
	users, err := a.arc.Users(r.Context())
	if err != nil {
		return err
	}
	out := struct {
		Users []apiUser `json:"users"`
	}{Users: make([]apiUser, 0, len(users))}
	for i := range users {
		out.Users = append(out.Users, toAPIUser(&users[i]))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) userCreate(w http.ResponseWriter, r *http.Request, u *archive.User) error {
	if err := requireAdmin(u); err != nil {
		return err
	}
	var in apiUserCreate
	if err := decodeJSON(w, r, apiMaxBody, &in); err != nil {
		return err
	}
	in.Login = strings.TrimSpace(in.Login)
	if in.Login == "" || in.Login == "me" {
		return errStatus(http.StatusBadRequest, `login is required (and cannot be "me")`)
	}
	if in.Role == "" {
		in.Role = string(archive.RoleUser)
	}
	if in.Password != "" {
		if err := checkPassword(in.Password); err != nil {
			return err
		}
	}
	nu := archive.User{
		Login: in.Login, Name: strings.TrimSpace(in.Name), Email: strings.TrimSpace(in.Email), Role: archive.Role(in.Role),
		Extensions: cleanList(in.Extensions), AccessList: cleanList(in.AccessList), Supervisor: strings.TrimSpace(in.Supervisor),
		Seat: in.Seat, MaySendLinks: in.MaySendLinks, MaySeeExternal: in.MaySeeExternal, Disabled: in.Disabled,
		MayProtect: in.MayProtect, DeletionMode: archive.DeletionMode(in.DeletionMode), MaskDTMF: in.MaskDTMF,
	}
	if in.DeletionMode == "" {
		nu.DeletionMode = archive.DeleteRecoverable
	}
	if err := a.checkUser(r, &nu); err != nil {
		return err
	}
	ctx := r.Context()
	// Logins match ignoring case (archive.MayRead), so "Alice" is
	// alice's login too.
	if same, err := a.arc.UsersFold(ctx, nu.Login); err != nil {
		return err
	} else if len(same) > 0 {
		return errStatus(http.StatusConflict, "a user with this login exists")
	}
	if err := a.arc.PutUser(ctx, nu, in.Password); err != nil {
		if errors.Is(err, archive.ErrExists) {
			return errStatus(http.StatusConflict, "a user with this login exists")
		}
		return invalid(err, "login, name, email, extensions or access list: too long, or not allowed characters")
	}
	a.auditChange(r, u, "user.create", nu.Login, "role "+string(nu.Role))
	got, err := a.arc.GetUser(ctx, nu.Login)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/users/"+nu.Login)
	writeJSON(w, http.StatusCreated, toAPIUser(got))
	return nil
}

func (a *API) userShow(w http.ResponseWriter, r *http.Request, u *archive.User) error {
	login := targetLogin(r, u)
	if err := selfOrAdmin(u, login); err != nil {
		return err
	}
	got, err := a.arc.GetUser(r.Context(), login)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toAPIUser(got))
	return nil
}

func (a *API) userPatch(w http.ResponseWriter, r *http.Request, u *archive.User) error {
	login := targetLogin(r, u)
	if err := selfOrAdmin(u, login); err != nil {
		return err
	}
	var p apiUserPatch
	if err := decodeJSON(w, r, apiMaxBody, &p); err != nil {
		return err
	}
	admin := u.Role == archive.RoleAdmin
	switch {
	case p.Login != nil && *p.Login != login:
		return errStatus(http.StatusBadRequest, "login cannot be changed")
	case !admin && p.adminFields():
		return errStatus(http.StatusForbidden, "only admins may change fields other than the password")
	case !admin && p.Password == nil:
		return errStatus(http.StatusBadRequest, "nothing to change")
	}
	ctx := r.Context()
	cur, err := a.arc.GetUser(ctx, login)
	if err != nil {
		return err
	}
	if p.WebDAVPassword != nil && *p.WebDAVPassword != "" {
		if err := checkPassword(*p.WebDAVPassword); err != nil {
			return err
		}
	}
	password := ""
	if p.Password != nil {
		if err := checkPassword(*p.Password); err != nil {
			return err
		}
		if !admin || login == u.Login {
			// Changing one's own password needs the current one, so a
			// leaked token or an open session cannot take the account.
			if p.CurrentPassword == nil {
				return errStatus(http.StatusBadRequest, "currentPassword is required to change your own password")
			}
			if _, err := a.arc.Authenticate(ctx, archive.ClientAddr(r.RemoteAddr), login, *p.CurrentPassword); err != nil {
				if errors.Is(err, archive.ErrBadCredentials) {
					a.auditChange(r, u, "user.password", login, "wrong current password", false)
					return errStatus(http.StatusForbidden, "the current password is wrong")
				}
				return err
			}
		}
		password = *p.Password
	}
	nu := *cur
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = strings.TrimSpace(*src)
		}
	}
	set(&nu.Name, p.Name)
	set(&nu.Email, p.Email)
	set(&nu.Supervisor, p.Supervisor)
	if p.Role != nil {
		nu.Role = archive.Role(*p.Role)
	}
	if p.MaskDTMF != nil {
		nu.MaskDTMF = *p.MaskDTMF
	}
	if p.DeletionMode != nil {
		nu.DeletionMode = archive.DeletionMode(*p.DeletionMode)
	} else {
		nu.DeletionMode = nu.DeletionMode.Effective() // "" from before the modes: recoverable
	}
	if p.Extensions != nil {
		nu.Extensions = cleanList(*p.Extensions)
	}
	if p.AccessList != nil {
		nu.AccessList = cleanList(*p.AccessList)
	}
	for _, b := range []struct {
		dst *bool
		src *bool
	}{{&nu.Seat, p.Seat}, {&nu.MaySendLinks, p.MaySendLinks}, {&nu.MaySeeExternal, p.MaySeeExternal}, {&nu.Disabled, p.Disabled},
		{&nu.MayProtect, p.MayProtect}} {
		if b.src != nil {
			*b.dst = *b.src
		}
	}
	if err := a.checkUser(r, &nu); err != nil {
		return err
	}
	if cur.Role == archive.RoleAdmin && !cur.Disabled && (nu.Role != archive.RoleAdmin || nu.Disabled) {
		last, err := a.lastAdmin(r, login)
		if err != nil {
			return err
		}
		if last {
			return errStatus(http.StatusConflict, "the last enabled admin cannot be demoted or disabled")
		}
	}
	if err := a.arc.PutUser(ctx, nu, password); err != nil {
		return invalid(err, "name, email, extensions or access list: too long, or not allowed characters")
	}
	if p.WebDAVPassword != nil {
		if err := a.arc.SetWebDAVPassword(ctx, login, *p.WebDAVPassword); err != nil {
			return err
		}
	}
	action, detail := "user.change", changedUserFields(&p)
	if !p.adminFields() {
		action = "user.password"
	}
	if password != "" {
		// A new password ends the user's sessions everywhere.
		if _, err := a.arc.DeleteSessions(ctx, login, ""); err != nil {
			a.log.ErrorContext(ctx, "api: ending sessions after a password change", "err", err)
		}
	}
	a.auditChange(r, u, action, login, detail)
	got, err := a.arc.GetUser(ctx, login)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toAPIUser(got))
	return nil
}

// changedUserFields names the fields a patch sets, for the audit log
// (never their values: the password in particular).
func changedUserFields(p *apiUserPatch) string {
	var f []string
	for _, x := range []struct {
		name string
		set  bool
	}{
		{"password", p.Password != nil}, {"name", p.Name != nil}, {"email", p.Email != nil}, {"role", p.Role != nil},
		{"extensions", p.Extensions != nil}, {"accessList", p.AccessList != nil}, {"supervisor", p.Supervisor != nil},
		{"seat", p.Seat != nil}, {"maySendLinks", p.MaySendLinks != nil}, {"maySeeExternal", p.MaySeeExternal != nil},
		{"disabled", p.Disabled != nil}, {"webdavPassword", p.WebDAVPassword != nil},
		{"mayProtect", p.MayProtect != nil}, {"deletionMode", p.DeletionMode != nil}, {"maskDtmf", p.MaskDTMF != nil},
	} {
		if x.set {
			f = append(f, x.name)
		}
	}
	if p.Role != nil {
		f = append(f, "role="+*p.Role)
	}
	if p.Disabled != nil && *p.Disabled {
		f = append(f, "disabled=true")
	}
	if p.MayProtect != nil {
		f = append(f, fmt.Sprintf("mayProtect=%t", *p.MayProtect))
	}
	if p.DeletionMode != nil {
		f = append(f, "deletionMode="+*p.DeletionMode)
	}
	if p.MaskDTMF != nil {
		f = append(f, fmt.Sprintf("maskDtmf=%t", *p.MaskDTMF))
	}
	return strings.Join(f, ", ")
}

func (a *API) userDelete(w http.ResponseWriter, r *http.Request, u *archive.User) error {
	if err := requireAdmin(u); err != nil {
		return err
	}
	login := targetLogin(r, u)
	if login == u.Login {
		return errStatus(http.StatusConflict, "you cannot delete your own account")
	}
	ctx := r.Context()
	cur, err := a.arc.GetUser(ctx, login)
	if err != nil {
		return err
	}
	if cur.Role == archive.RoleAdmin && !cur.Disabled {
		last, err := a.lastAdmin(r, login)
		if err != nil {
			return err
		}
		if last {
			return errStatus(http.StatusConflict, "the last enabled admin cannot be deleted")
		}
	}
	if err := a.arc.DeleteUser(ctx, login); err != nil {
		return err
	}
	a.auditChange(r, u, "user.delete", login, "")
	noContent(w)
	return nil
}

// auditChange records a state change that has happened. ok defaults to
// true. A failure to record is logged: the change cannot be undone.
func (a *API) auditChange(r *http.Request, u *archive.User, action, target, detail string, ok ...bool) {
	success := len(ok) == 0 || ok[0]
	if err := a.auditEvent(r.Context(), r, u, action, target, success, detail); err != nil {
		a.log.ErrorContext(r.Context(), "api: audit log write failed", "action", action, "err", err)
	}
}
