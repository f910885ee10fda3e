package ui

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"html"
	"html/template"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/internal/bytesize"
	"github.com/callvault/callvault/internal/i18n"
	"github.com/callvault/callvault/internal/webcore"
	"github.com/callvault/callvault/share"
)

// The pages speak English and German. A person's language is the one
// chosen on their account page (archive.User.Language), else the one their
// browser asks for (Accept-Language), else English.
//
// Every text a page shows is a key of text.json, which holds each key's
// text in every language. Templates say {{t "key" args…}} (the text as
// a fmt format over args) or {{th "key" args…}} (a text with markup, the
// args escaped); Go code says rc.T("key", args…); scripts say T("key")
// for keys under "js.", which the layout hands them in a JSON block.
// New refuses to start when a key a template or script uses has no text
// in some language, or when a key of text.json is used by nothing
// (keys under "msg." are Go's: TestTextKeysOfGo checks those).

// uiLanguages are the pages' languages, the default first.
var uiLanguages = []string{"en", "de"}

// languageNames are the languages' names in themselves, for the account
// page's switch.
var languageNames = map[string]string{"en": "English", "de": "Deutsch"}

//go:embed text.json
var textJSON []byte

// texts are the pages' texts: language → key → text.
type texts map[string]map[string]string

// loadTexts reads text.json: every key must have a text in every language
// of uiLanguages, and no other.
var loadTexts = sync.OnceValues(func() (texts, error) { return parseTexts(textJSON) })

func parseTexts(b []byte) (texts, error) {
	var raw map[string]map[string]string
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("ui: text.json: %w", err)
	}
	tx := texts{}
	for _, l := range uiLanguages {
		tx[l] = map[string]string{}
	}
	var problems []string
	for key, byLang := range raw {
		for l, s := range byLang {
			if tx[l] == nil {
				problems = append(problems, fmt.Sprintf("%q: unknown language %q", key, l))
				continue
			}
			tx[l][key] = s
		}
	}
	slices.Sort(problems)
	if len(problems) > 0 {
		return nil, fmt.Errorf("ui: text.json: %s", strings.Join(problems, "; "))
	}
	return tx, nil
}

// text is key in lang, formatted over args; the key itself when it has
// no text (which the start-up check rules out for templates and scripts,
// and TestTextKeysOfGo for Go code).
func (tx texts) text(lang, key string, args ...any) string {
	s, ok := tx[lang][key]
	if !ok {
		s, ok = tx[uiLanguages[0]][key]
	}
	if !ok {
		return key
	}
	if len(args) == 0 {
		return s
	}
	return fmt.Sprintf(s, args...)
}

// textFuncs are the template functions of lang: t, th, num.
func textFuncs(tx texts, lang string) template.FuncMap {
	return template.FuncMap{
		"t": func(key string, args ...any) string { return tx.text(lang, key, args...) },
		"th": func(key string, args ...any) template.HTML {
			esc := make([]any, len(args))
			for i, a := range args {
				esc[i] = html.EscapeString(fmt.Sprint(a))
			}
			return template.HTML(tx.text(lang, key, esc...)) // text.json is the product's own markup
		},
		"num": func(n int) string { return i18n.Int(lang, int64(n)) },
	}
}

// scriptKey finds the keys a script asks for: T("js.key").
var scriptKey = regexp.MustCompile(`\bT\("(js\.[A-Za-z0-9_.]+)"`)

// checkTexts is the start-up check: every key the templates and scripts
// use has a text in every language, and every key of text.json outside
// "msg." is used by a template or a script.
func checkTexts(tx texts, pages map[string]*template.Template, scripts map[string][]byte) error {
	used := map[string]bool{}
	for _, name := range slices.Sorted(maps.Keys(pages)) {
		for _, fn := range []string{"t", "th"} {
			if err := i18n.TemplateKeys(pages[name], fn, used); err != nil {
				return fmt.Errorf("ui: %s: %w", name, err)
			}
		}
	}
	for _, b := range scripts {
		for _, m := range scriptKey.FindAllSubmatch(b, -1) {
			used[string(m[1])] = true
		}
	}
	// Go's keys count as used here; TestTextKeysOfGo checks them.
	for _, cat := range tx {
		for k := range cat {
			if strings.HasPrefix(k, "msg.") {
				used[k] = true
			}
		}
	}
	cats := map[string]map[string]string{}
	for l, cat := range tx {
		cats[l] = cat
	}
	return i18n.Check(cats, used)
}

// scriptTexts are lang's texts for the scripts (keys under "js.").
func (tx texts) scriptTexts(lang string) map[string]string {
	out := map[string]string{}
	for k, s := range tx[lang] {
		if strings.HasPrefix(k, "js.") {
			out[k] = s
		}
	}
	return out
}

// matchLanguage maps a language range to one of uiLanguages, "" for none.
func matchLanguage(tag string) string {
	p := i18n.Primary(tag)
	if slices.Contains(uiLanguages, p) {
		return p
	}
	return ""
}

// requestLanguage is the language of a page for r: the account's choice,
// else the browser's, else English.
func requestLanguage(r *http.Request, user *archive.User) string {
	if user != nil && slices.Contains(uiLanguages, user.Language) {
		return user.Language
	}
	if l := i18n.Pick(r.Header.Get("Accept-Language"), matchLanguage); l != "" {
		return l
	}
	return uiLanguages[0]
}

// T is key in the request's language, formatted over args.
func (rc *reqCtx) T(key string, args ...any) string {
	tx, _ := loadTexts()
	return tx.text(rc.language(), key, args...)
}

// language is the request's language; English before it is known.
func (rc *reqCtx) language() string {
	if rc == nil || rc.lang == "" {
		return uiLanguages[0]
	}
	return rc.lang
}

// when writes t in the appliance's zone the way the request's language
// writes a date and time; "" for the zero time.
func (rc *reqCtx) when(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return i18n.DateTime(rc.language(), t.In(rc.loc))
}

// whenMinute is when to the minute.
func (rc *reqCtx) whenMinute(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return i18n.DateMinute(rc.language(), t.In(rc.loc))
}

// num writes n with its digits grouped the request's way.
func (rc *reqCtx) num(n int) string { return i18n.Int(rc.language(), int64(n)) }

// statusTitle is the error page's title for an HTTP status.
func statusTitle(rc *reqCtx, code int) string {
	switch code {
	case http.StatusBadRequest:
		return rc.T("msg.status.400")
	case http.StatusUnauthorized:
		return rc.T("msg.status.401")
	case http.StatusForbidden:
		return rc.T("msg.status.403")
	case http.StatusNotFound:
		return rc.T("msg.status.404")
	case http.StatusConflict:
		return rc.T("msg.status.409")
	case http.StatusGone:
		return rc.T("msg.status.410")
	case http.StatusRequestEntityTooLarge:
		return rc.T("msg.status.413")
	case http.StatusUnsupportedMediaType:
		return rc.T("msg.status.415")
	case http.StatusUnprocessableEntity:
		return rc.T("msg.status.422")
	case http.StatusTooManyRequests:
		return rc.T("msg.status.429")
	case http.StatusServiceUnavailable:
		return rc.T("msg.status.503")
	}
	return rc.T("msg.status.other", code)
}

// shareErrors translate the refusals of package share, which speaks
// English to API clients: the start of its message → a key and the
// key's arguments.
var shareErrors = []struct {
	prefix string
	key    string
	args   []any
}{
	{"no such link", "msg.share.noSuchLink", nil},
	{"no such user", "msg.share.noSuchUser", nil},
	{"the user has no email", "msg.share.noEmail", nil},
	{"recording not found", "msg.share.recordingNotFound", nil},
	{"you may not send links", "msg.share.mayNotSend", nil},
	{"you may not cancel links", "msg.share.mayNotCancel", nil},
	{"only admins change", "msg.share.adminsOnly", nil},
	{"links cannot be sent", "msg.share.noPublicURL", nil},
	{"the logo must be at most", "msg.share.logoSize", []any{share.MaxLogo >> 10}},
	{"the logo must be a PNG", "msg.share.logoType", nil},
	{"the footer has at most", "msg.share.footerLines", []any{share.MaxFooterLines}},
	{"a footer line", "msg.share.footerLine", nil},
	{"the session lifetime", "msg.share.session", nil},
	{"days must be", "msg.share.days", []any{share.MaxDays}},
	{"the mail bodies must contain", "msg.share.needsLink", nil},
	{"the body must contain", "msg.share.needsLink", nil},
	{"a subject must be", "msg.share.subject", nil},
	{"the subject must be", "msg.share.subject", nil},
	{"a mail body must be", "msg.share.body", nil},
	{"the body must be", "msg.share.body", nil},
	{"From must be", "msg.share.from", nil},
	{"unknown language", "msg.share.language", nil},
	{"the English terms", "msg.share.englishTerms", nil},
	{"the default language must", "msg.share.defaultTerms", nil},
	{"the terms of use must", "msg.share.termsSize", nil},
	{"choose at least one", "msg.chooseLeastOneRecording", nil},
	{"at most", "msg.share.maxRecordings", []any{share.MaxRecordings}},
	{"the recipient's name", "msg.share.recipientName", nil},
	{"the recipient's email", "msg.share.recipientEmail", nil},
	{"the reason is required", "msg.share.reason", nil},
	{"choose a language", "msg.share.termsLanguage", nil},
	{"status must be", "msg.share.status", nil},
}

// shareErrorText is a refusal of package share in the request's language.
func shareErrorText(rc *reqCtx, se *share.Error) string {
	for _, e := range shareErrors {
		if strings.HasPrefix(se.Msg, e.prefix) {
			return rc.T(e.key, e.args...)
		}
	}
	if strings.HasPrefix(se.Msg, "recording ") {
		switch {
		case strings.HasSuffix(se.Msg, "not found"):
			return rc.T("msg.share.recordingNotFound")
		case strings.HasSuffix(se.Msg, "still being recorded"):
			return rc.T("msg.share.stillRecording")
		case strings.HasSuffix(se.Msg, "can be played"):
			return rc.T("msg.share.notPlayable")
		case strings.HasSuffix(se.Msg, "integrity check"):
			return rc.T("msg.share.integrity")
		}
	}
	if strings.HasPrefix(se.Msg, "the link has") {
		return rc.T("msg.share.alreadyEnded")
	}
	return rc.T("msg.share.refused")
}

// actionLabel is an audit action in words, in the request's language
// (msg.action.ACTION); an action without words shows as it is logged.
func actionLabel(rc *reqCtx, action string) string {
	tx, _ := loadTexts()
	if _, ok := tx[rc.language()]["msg.action."+action]; ok {
		return rc.T("msg.action." + action)
	}
	return action
}

// size writes n bytes as KiB, MiB or GiB the request's way.
func (rc *reqCtx) size(n int64) string {
	return strings.Replace(bytesize.Format(n, rc.T("msg.unit.bytes")), ".", i18n.DecimalMark(rc.language()), 1)
}

// lossPercent is lost / (received + lost) in percent, "" without packets.
func (rc *reqCtx) lossPercent(packets, lost int) string {
	if packets+lost <= 0 {
		return ""
	}
	return i18n.Number(rc.language(), 100*float64(lost)/float64(packets+lost), 1) + " %"
}

// directionLabel is a call's direction in words.
func directionLabel(rc *reqCtx, d string) string {
	switch d {
	case webcore.DirIn:
		return rc.T("msg.dir.in")
	case webcore.DirOut:
		return rc.T("msg.dir.out")
	case webcore.DirInternal:
		return rc.T("msg.dir.internal")
	}
	return "—"
}

// stateLabel is a recording's state in words.
func stateLabel(rc *reqCtx, s archive.State) string {
	switch s {
	case archive.StateComplete:
		return rc.T("msg.state.complete")
	case archive.StateRecording:
		return rc.T("msg.state.recording")
	case archive.StateInterrupted:
		return rc.T("msg.state.interrupted")
	}
	return string(s)
}

// cdrLabels are the words of webcore.CDRFacts' labels.
var cdrLabels = map[string]string{
	"Direction": "msg.cdr.direction", "Caller": "msg.cdr.caller", "Callee": "msg.cdr.callee",
	"Access number": "msg.cdr.accessNumber", "Queue": "msg.cdr.queue", "Answer group": "msg.cdr.answerGroup",
	"Agent": "msg.cdr.agent", "Start": "msg.cdr.start", "End": "msg.cdr.end", "Wait time": "msg.cdr.waitTime",
	"Talk time": "msg.cdr.talkTime", "Referred by": "msg.cdr.referredBy", "Referred to": "msg.cdr.referredTo",
	"Call id": "msg.cdr.callID",
	"Inbound": "msg.cdr.inbound", "Outbound": "msg.cdr.outbound", "Internal": "msg.cdr.internal",
}

// cdrFacts are webcore.CDRFacts in the request's language: its labels
// and directions translated, its times written the request's way.
func cdrFacts(rc *reqCtx, c archive.CDR) [][2]string {
	facts := webcore.CDRFacts(c, rc.loc)
	for i, f := range facts {
		if k, ok := cdrLabels[f[0]]; ok {
			facts[i][0] = rc.T(k)
		}
		switch f[0] {
		case "Direction":
			if k, ok := cdrLabels[f[1]]; ok {
				facts[i][1] = rc.T(k)
			}
		case "Start":
			facts[i][1] = rc.when(c.StartTime)
		case "End":
			facts[i][1] = rc.when(c.EndTime)
		}
	}
	return facts
}
