package api

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/callvault/callvault/archive"
)

type apiNote struct {
	ID      uint64    `json:"id"`
	Author  string    `json:"author"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
	Text    string    `json:"text"`
}

func toAPINote(n *archive.Note) apiNote {
	return apiNote{ID: n.ID, Author: n.Author, Created: n.Created, Updated: n.Updated, Text: n.Text}
}

// noteTarget loads {id} (which the caller must be allowed to read) and
// parses {note}.
func (a *API) noteTarget(r *http.Request, u *archive.User) (*archive.Recording, uint64, error) {
	rec, err := a.recording(r, u)
	if err != nil {
		return nil, 0, err
	}
	n, err := strconv.ParseUint(r.PathValue("note"), 10, 64)
	if err != nil || n == 0 {
		return nil, 0, errStatus(http.StatusNotFound, "not found")
	}
	return rec, n, nil
}

// mayChangeNoteErr loads note id of rec and refuses (403) when u may not
// change it; verb ("change", "delete") goes into the refusal.
func (a *API) mayChangeNoteErr(r *http.Request, u *archive.User, rec *archive.Recording, id uint64, verb string) error {
	cur, err := a.arc.Note(r.Context(), rec.ID, id)
	if err != nil {
		return err
	}
	if !archive.MayChangeNote(u, cur) {
		return errStatus(http.StatusForbidden, "only the author or an admin may "+verb+" a note")
	}
	return nil
}

type apiNoteBody struct {
	Text string `json:"text"`
}

func noteError(err error) error {
	if errors.Is(err, archive.ErrInvalid) {
		return errStatus(http.StatusBadRequest, "text: required, at most 16384 bytes of UTF-8")
	}
	return err
}

func (a *API) noteList(w http.ResponseWriter, r *http.Request, u *archive.User) error {
	rec, err := a.recording(r, u)
	if err != nil {
		return err
	}
	notes, err := a.arc.Notes(r.Context(), rec.ID)
	if err != nil {
		return err
	}
	out := struct {
		Notes []apiNote `json:"notes"`
	}{Notes: make([]apiNote, 0, len(notes))}
	for i := range notes {
		out.Notes = append(out.Notes, toAPINote(&notes[i]))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) noteShow(w http.ResponseWriter, r *http.Request, u *archive.User) error {
	rec, id, err := a.noteTarget(r, u)
	if err != nil {
		return err
	}
	n, err := a.arc.Note(r.Context(), rec.ID, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toAPINote(n))
	return nil
}

func (a *API) noteCreate(w http.ResponseWriter, r *http.Request, u *archive.User) error {
	rec, err := a.recording(r, u)
	if err != nil {
		return err
	}
	var in apiNoteBody
	if err := decodeJSON(w, r, apiMaxBody, &in); err != nil {
		return err
	}
	n, err := a.arc.AddNote(r.Context(), rec.ID, u.Login, in.Text)
	if err != nil {
		return noteError(err)
	}
	a.auditChange(r, u, "note.add", rec.ID.String(), "note "+strconv.FormatUint(n.ID, 10))
	w.Header().Set("Location", "/api/v1/recordings/"+rec.ID.String()+"/notes/"+strconv.FormatUint(n.ID, 10))
	writeJSON(w, http.StatusCreated, toAPINote(n))
	return nil
}

func (a *API) notePatch(w http.ResponseWriter, r *http.Request, u *archive.User) error {
	rec, id, err := a.noteTarget(r, u)
	if err != nil {
		return err
	}
	var in apiNoteBody
	if err := decodeJSON(w, r, apiMaxBody, &in); err != nil {
		return err
	}
	ctx := r.Context()
	if err := a.mayChangeNoteErr(r, u, rec, id, "change"); err != nil {
		return err
	}
	n, err := a.arc.EditNote(ctx, rec.ID, id, in.Text)
	if err != nil {
		return noteError(err)
	}
	a.auditChange(r, u, "note.edit", rec.ID.String(), "note "+strconv.FormatUint(id, 10))
	writeJSON(w, http.StatusOK, toAPINote(n))
	return nil
}

func (a *API) noteDelete(w http.ResponseWriter, r *http.Request, u *archive.User) error {
	rec, id, err := a.noteTarget(r, u)
	if err != nil {
		return err
	}
	ctx := r.Context()
	if err := a.mayChangeNoteErr(r, u, rec, id, "delete"); err != nil {
		return err
	}
	if err := a.arc.DeleteNote(ctx, rec.ID, id); err != nil {
		return err
	}
	a.auditChange(r, u, "note.delete", rec.ID.String(), "note "+strconv.FormatUint(id, 10))
	noContent(w)
	return nil
}
