package webcore

import (
	"context"
	"encoding/csv"
	"encoding/hex"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/callvault/callvault/archive"
)

// ActionWords are the audit log's actions as people read them. The log
// stores the short names; the page and the CSV show these words.
var ActionWords = map[string]string{
	"login":                      "Logged in",
	"logout":                     "Logged out",
	"webdav.login":               "WebDAV login",
	"password.change":            "Changed own password",
	"play":                       "Played",
	"download":                   "Downloaded (zip)",
	"original.get":               "Downloaded the original capture",
	"webdav.get":                 "Downloaded over WebDAV",
	"verify":                     "Verified a recording",
	"seal.verify":                "Verified the seal chain",
	"integrity.fail":             "Integrity check failed",
	"note.add":                   "Added a note",
	"note.edit":                  "Edited a note",
	"note.delete":                "Deleted a note",
	"user.create":                "Created a user",
	"user.change":                "Changed a user",
	"user.password":              "Set a user's password",
	"user.delete":                "Deleted a user",
	"token.create":               "Created an API token",
	"token.revoke":               "Revoked an API token",
	"settings.change":            "Changed settings",
	"key.rotate":                 "Rotated the archive key",
	"recording.delete":           "Deleted a recording",
	"recording.restore":          "Restored from the recycle bin",
	"recording.purge":            "Purged from the recycle bin",
	"recording.protect":          "Put on legal hold",
	"recording.unprotect":        "Lifted the legal hold",
	archive.AuditLifecycleDelete: "Deleted automatically",
	"lifecycle.run":              "Retention run",
	archive.AuditLifecycleCDRs:   "Deleted call details without a recording",
	"share.send":                 "Sent a link to an external recipient",
	"share.cancel":               "Cancelled a link",
	"share.expire":               "A link expired",
	"share.config":               "Changed the external access configuration",
	"share.internal":             "Sent a link to a user",
	"share.code.request":         "Asked for a one-time code (external)",
	"share.code.enter":           "Entered a one-time code (external)",
	"share.terms.accept":         "Accepted the terms of use (external)",
	"flex.url":                   "Twilio Flex media link",
	"webhook.create":             "Created a webhook",
	"webhook.update":             "Changed a webhook",
	"webhook.enable":             "Enabled a webhook",
	"webhook.delete":             "Deleted a webhook",
	"call.pause":                 "Paused a call's recording",
	"call.resume":                "Resumed a call's recording",
	"chain.head.sign":            "Signed the seal chain's head",
	"salvage":                    "Salvaged a recording",
	"foureyes.request":           "Asked for 4-eyes access",
	"foureyes.grant":             "Granted 4-eyes access",
	"foureyes.refuse":            "Refused 4-eyes access",
	"foureyes.revoke":            "4-eyes access ended",
	"audit.export":               "Exported the audit log",
	"recordings.export":          "Exported the recording list",
}

// actionLabel is the words for action; an action without an entry reads
// as its name with the dots as spaces, capitalised ("share.send" → "Share
// send").
func ActionLabel(action string) string {
	if w, ok := ActionWords[action]; ok {
		return w
	}
	s := strings.NewReplacer(".", " ", "_", " ").Replace(action)
	if s == "" {
		return ""
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// auditTargetURL links an entry's target to its recording when the target
// names one (a recording ID); "" otherwise.
func AuditTargetURL(target string) string {
	if _, err := archive.ParseID(target); err != nil {
		return ""
	}
	return "/recordings/" + target
}

// CSVHeader are the columns of an audit CSV.
var CSVHeader = []string{"seq", "time", "who", "action", "action (words)", "target", "source", "result", "detail", "hash"}

// csvCell makes s safe to open in a spreadsheet: a cell starting with
// = + - @ (or a tab or carriage return) is a formula there, so it gets a
// leading apostrophe.
func CSVCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// writeAuditCSV writes every audit event matching q (Limit and Cursor are
// ignored) as CSV, newest first, reading the log a page at a time. It
// returns the number of rows.
func WriteAuditCSV(ctx context.Context, w io.Writer, arc *archive.Archive, q archive.AuditQuery) (int, error) {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return 0, err
	}
	q.Limit, q.Cursor = 1000, ""
	n := 0
	for {
		events, next, err := arc.AuditLog(ctx, q)
		if err != nil {
			return n, err
		}
		for _, e := range events {
			result := "ok"
			if !e.OK {
				result = "failed"
			}
			row := []string{strconv.FormatUint(e.Seq, 10), e.Time.UTC().Format(time.RFC3339Nano), e.Actor, e.Action,
				ActionLabel(e.Action), e.Target, archive.AddrHost(e.Remote), result, e.Detail, hex.EncodeToString(e.Hash[:])}
			for i := range row {
				row[i] = CSVCell(row[i])
			}
			if err := cw.Write(row); err != nil {
				return n, err
			}
			n++
		}
		cw.Flush()
		if err := cw.Error(); err != nil {
			return n, err
		}
		if next == "" {
			return n, nil
		}
		q.Cursor = next
	}
}

// auditFilterDetail names the filters of an export for its own audit
// entry.
func AuditFilterDetail(q archive.AuditQuery) string {
	var parts []string
	add := func(k, v string) {
		if v != "" {
			parts = append(parts, k+"="+v)
		}
	}
	add("q", q.Text)
	add("actor", q.Actor)
	add("action", q.Action)
	if !q.From.IsZero() {
		add("from", q.From.UTC().Format(time.RFC3339))
	}
	if !q.To.IsZero() {
		add("to", q.To.UTC().Format(time.RFC3339))
	}
	if len(parts) == 0 {
		return "all entries"
	}
	return strings.Join(parts, " ")
}

// serveAuditCSV sends the CSV of q as a download; the status is sent
// before the log is read, so a failure part way aborts the response.
func ServeAuditCSV(w http.ResponseWriter, r *http.Request, arc *archive.Archive, q archive.AuditQuery, now time.Time) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="audit-`+now.UTC().Format("20060102-150405")+`.csv"`)
	w.Header().Set("Cache-Control", "private, no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if _, err := WriteAuditCSV(r.Context(), w, arc, q); err != nil {
		panic(http.ErrAbortHandler)
	}
}
