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
	"github.com/callvault/callvault/internal/i18n"
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

// day writes t's day in the appliance's zone.
func (rc *reqCtx) day(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return i18n.Date(rc.language(), t.In(rc.loc))
}

// num writes n with its digits grouped the request's way.
func (rc *reqCtx) num(n int) string { return i18n.Int(rc.language(), int64(n)) }
