package api

import (
	"net/http"
	"strings"
	"time"

	"github.com/callvault/callvault/archive"
)

type apiToken struct {
	ID       string     `json:"id"`
	Label    string     `json:"label"`
	Created  time.Time  `json:"created"`
	LastUsed *time.Time `json:"lastUsed,omitempty"`
	// Token is set only in the response that creates it.
	Token string `json:"token,omitempty"`
}

func toAPIToken(t archive.TokenInfo) apiToken {
	out := apiToken{ID: t.ID, Label: t.Label, Created: t.Created}
	if !t.LastUsed.IsZero() {
		lu := t.LastUsed
		out.LastUsed = &lu
	}
	return out
}

// tokenOwner resolves {login} for the token routes: admins reach every
// user, others themselves; the user must exist.
func (a *API) tokenOwner(r *http.Request, u *archive.User) (string, error) {
	login := targetLogin(r, u)
	if err := selfOrAdmin(u, login); err != nil {
		return "", err
	}
	if _, err := a.arc.GetUser(r.Context(), login); err != nil {
		return "", err
	}
	return login, nil
}

func (a *API) tokenList(w http.ResponseWriter, r *http.Request, u *archive.User) error {
	login, err := a.tokenOwner(r, u)
	if err != nil {
		return err
	}
	toks, err := a.arc.Tokens(r.Context(), login)
	if err != nil {
		return err
	}
	out := struct {
		Tokens []apiToken `json:"tokens"`
	}{Tokens: make([]apiToken, 0, len(toks))}
	for _, t := range toks {
		out.Tokens = append(out.Tokens, toAPIToken(t))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) tokenCreate(w http.ResponseWriter, r *http.Request, u *archive.User) error {
	login, err := a.tokenOwner(r, u)
	if err != nil {
		return err
	}
	var in struct {
		Label string `json:"label"`
	}
	if err := decodeJSON(w, r, apiMaxBody, &in); err != nil {
		return err
	}
	in.Label = strings.TrimSpace(in.Label)
	tok, info, err := a.arc.CreateToken(r.Context(), login, in.Label)
	if err != nil {
		return invalid(err, "label: at most 128 bytes of text; a user has at most 100 tokens")
	}
	a.auditChange(r, u, "token.create", login, "token "+info.ID)
	out := toAPIToken(info)
	out.Token = tok
	w.Header().Set("Location", "/api/v1/users/"+login+"/tokens/"+info.ID)
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (a *API) tokenRevoke(w http.ResponseWriter, r *http.Request, u *archive.User) error {
	login, err := a.tokenOwner(r, u)
	if err != nil {
		return err
	}
	id := r.PathValue("token")
	if err := a.arc.RevokeToken(r.Context(), login, id); err != nil {
		return err
	}
	a.auditChange(r, u, "token.revoke", login, "token "+id)
	noContent(w)
	return nil
}
