package ui

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/callvault/callvault/archive"
)

// maxNoteText bounds a note's text.
const maxNoteText = 10000

func isNotFound(err error) bool { return errors.Is(err, archive.ErrNotFound) }

// noteText reads and checks the form's text; msg is non-empty when it is
// not acceptable.
func noteText(r *http.Request, rc *reqCtx) (text, msg string) {
	text = strings.TrimSpace(strings.ReplaceAll(r.PostForm.Get("text"), "\r\n", "\n"))
	switch {
	case text == "":
		return "", rc.T("msg.note.empty")
	case len(text) > maxNoteText:
		return "", rc.T("msg.note.long", rc.num(maxNoteText))
	}
	return text, ""
}

// noteFail shows the recording page again with msg.
func (u *UI) noteFail(w http.ResponseWriter, r *http.Request, rc *reqCtx, rec *archive.Recording, msg string) error {
	p, err := u.recordingPage(r, rc, rec)
	if err != nil {
		return err
	}
	p.NoteError = msg
	u.render(w, r, http.StatusBadRequest, "recording.html", p)
	return nil
}

// noteSaveFail answers an error of AddNote or EditNote: the recording page
// again for text the archive refuses, err itself otherwise.
func (u *UI) noteSaveFail(w http.ResponseWriter, r *http.Request, rc *reqCtx, rec *archive.Recording, err error) error {
	if errors.Is(err, archive.ErrInvalid) {
		return u.noteFail(w, r, rc, rec, rc.T("msg.note.invalid"))
	}
	return err
}

func (u *UI) noteAdd(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	rec, err := u.loadRecording(r, rc)
	if err != nil {
		return err
	}
	text, msg := noteText(r, rc)
	if msg != "" {
		return u.noteFail(w, r, rc, rec, msg)
	}
	n, err := u.arc.AddNote(r.Context(), rec.ID, rc.user.Login, text)
	if err != nil {
		return u.noteSaveFail(w, r, rc, rec, err)
	}
	u.audit(r, rc, "note.add", rec.ID.String(), true, "note "+strconv.FormatUint(n.ID, 10))
	redirect(w, r, "/recordings/"+rec.ID.String()+"#notes")
	return nil
}

// loadNote loads recording {id} and finds its note {note}, checking the
// viewer may change it.
func (u *UI) loadNote(r *http.Request, rc *reqCtx) (*archive.Recording, *archive.Note, error) {
	rec, err := u.loadRecording(r, rc)
	if err != nil {
		return nil, nil, err
	}
	id, err := strconv.ParseUint(r.PathValue("note"), 10, 64)
	if err != nil {
		return nil, nil, &pageError{code: http.StatusNotFound, msg: "msg.thereNoSuchNote"}
	}
	notes, err := u.arc.Notes(r.Context(), rec.ID)
	if err != nil {
		return nil, nil, err
	}
	for i := range notes {
		if notes[i].ID == id {
			if !archive.MayChangeNote(rc.user, &notes[i]) {
				return nil, nil, &pageError{code: http.StatusForbidden, msg: "msg.onlyAuthorAdministratorChange"}
			}
			return rec, &notes[i], nil
		}
	}
	return nil, nil, &pageError{code: http.StatusNotFound, msg: "msg.thereNoSuchNote"}
}

func (u *UI) noteEdit(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	rec, n, err := u.loadNote(r, rc)
	if err != nil {
		return err
	}
	text, msg := noteText(r, rc)
	if msg != "" {
		return u.noteFail(w, r, rc, rec, msg)
	}
	if _, err := u.arc.EditNote(r.Context(), rec.ID, n.ID, text); err != nil {
		return u.noteSaveFail(w, r, rc, rec, err)
	}
	u.audit(r, rc, "note.edit", rec.ID.String(), true, "note "+strconv.FormatUint(n.ID, 10))
	redirect(w, r, "/recordings/"+rec.ID.String()+"#notes")
	return nil
}

func (u *UI) noteDelete(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	rec, n, err := u.loadNote(r, rc)
	if err != nil {
		return err
	}
	if err := u.arc.DeleteNote(r.Context(), rec.ID, n.ID); err != nil {
		return err
	}
	u.audit(r, rc, "note.delete", rec.ID.String(), true, "note "+strconv.FormatUint(n.ID, 10))
	redirect(w, r, "/recordings/"+rec.ID.String()+"#notes")
	return nil
}
