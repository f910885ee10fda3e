package share

import "strings"

// Languages are the languages of the playback page and the code mail, in
// the order the send form and the page offer them.
var Languages = []string{"en", "no", "se", "dk", "fi", "lv", "lt", "ee"}

// validLanguage reports whether lang is one of Languages.
func validLanguage(lang string) bool {
	for _, l := range Languages {
		if l == lang {
			return true
		}
	}
	return false
}

// LanguageName is lang's name in that language ("Norsk" for "no").
func LanguageName(lang string) string { return strings.ToUpper(lang) }

// CodeMail is the one-time code mail in lang (English for an unknown one).
func CodeMail(lang, code string) (subject, body string) {
	return "Your one-time code", "Your one-time code is " + code + ". The code is valid for 10 minutes."
}

// DefaultTerms are the terms of use shipped for lang, "" for none.
func DefaultTerms(lang string) string { return "" }

// DefaultExternalMail is the default link mail for an external recipient
// in lang; body holds {{link}} and {{expires}}.
func DefaultExternalMail(lang string) (subject, body string) {
	return "Call recordings", "{{link}}\n{{expires}}"
}

// DefaultInternalMail is the default link mail to an archive user in lang;
// body holds {{link}}, {{recipient}} and {{myname}}.
func DefaultInternalMail(lang string) (subject, body string) {
	return "Call recordings", "{{recipient}}\n{{link}}\n{{myname}}"
}
