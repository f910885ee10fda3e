package share

import (
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestLanguagesHaveTexts(t *testing.T) {
	if got := slices.Sorted(maps.Keys(langTexts)); !slices.Equal(got, slices.Sorted(slices.Values(Languages))) {
		t.Fatalf("texts for %v, Languages %v", got, Languages)
	}
	names := map[string]string{"en": "English", "de": "Deutsch", "no": "Norsk", "se": "Svenska", "dk": "Dansk", "fi": "Suomi", "lv": "Latviešu", "lt": "Lietuvių", "ee": "Eesti"}
	for l, want := range names {
		if got := LanguageName(l); got != want {
			t.Errorf("LanguageName(%q) = %q, want %q", l, got, want)
		}
	}
	for _, l := range []string{"", "xx", "EN", "fr"} {
		if validLanguage(l) {
			t.Errorf("validLanguage(%q)", l)
		}
		if LanguageName(l) != "English" {
			t.Errorf("LanguageName(%q) = %q, want English", l, LanguageName(l))
		}
	}
}

var placeholderRE = regexp.MustCompile(`\{\{?[a-z]+\}\}?`)

// placeholders returns the sorted placeholders of s ("{n}", "{{link}}").
func mailPlaceholders(s string) []string {
	return slices.Sorted(slices.Values(placeholderRE.FindAllString(s, -1)))
}

// Every language has every page string, none empty, with the placeholders
// of the English one and nothing left untranslated.
func TestEveryLanguageHasEveryString(t *testing.T) {
	en := langTexts["en"]
	for _, l := range Languages {
		lt := langTexts[l]
		for _, k := range pageKeys {
			s, ok := lt.page[k]
			if !ok || strings.TrimSpace(s) == "" {
				t.Errorf("%s: page string %q missing or empty", l, k)
				continue
			}
			if got, want := mailPlaceholders(s), mailPlaceholders(en.page[k]); !slices.Equal(got, want) {
				t.Errorf("%s: %s has placeholders %v, want %v", l, k, got, want)
			}
			if l != "en" && s == en.page[k] {
				t.Errorf("%s: %s is the English text %q", l, k, s)
			}
		}
		for k := range lt.page {
			if !slices.Contains(pageKeys, k) {
				t.Errorf("%s: page string %q is not in pageKeys", l, k)
			}
		}
		fields := map[string]string{
			"name": lt.name, "tag": lt.tag, "codeSubject": lt.codeSubject, "codeBody": lt.codeBody,
			"extSubject": lt.extSubject, "extBody": lt.extBody, "intSubject": lt.intSubject,
			"intBody": lt.intBody, "terms": lt.terms,
		}
		for f, s := range fields {
			if strings.TrimSpace(s) == "" {
				t.Errorf("%s: %s empty", l, f)
			}
		}
		if l != "en" {
			for f, s := range fields {
				if f != "tag" && f != "name" && s == map[string]string{"codeSubject": en.codeSubject, "codeBody": en.codeBody,
					"extSubject": en.extSubject, "extBody": en.extBody, "intSubject": en.intSubject, "intBody": en.intBody, "terms": en.terms}[f] {
					t.Errorf("%s: %s is the English text", l, f)
				}
			}
		}
	}
}

func TestDefaultMailsKeepPlaceholders(t *testing.T) {
	for _, l := range append(slices.Clone(Languages), "xx") {
		subject, body := DefaultExternalMail(l)
		if subject == "" || strings.Contains(subject, "{{") {
			t.Errorf("%s: external subject %q", l, subject)
		}
		if got := mailPlaceholders(body); !slices.Equal(got, []string{"{{expires}}", "{{link}}"}) {
			t.Errorf("%s: external body placeholders %v", l, got)
		}
		subject, body = DefaultInternalMail(l)
		if subject == "" || strings.Contains(subject, "{{") {
			t.Errorf("%s: internal subject %q", l, subject)
		}
		if got := mailPlaceholders(body); !slices.Equal(got, []string{"{{link}}", "{{myname}}", "{{recipient}}"}) {
			t.Errorf("%s: internal body placeholders %v", l, got)
		}
		// The link stands on a line of its own, so mail clients make it clickable.
		if !strings.Contains(body, "\n{{link}}\n") {
			t.Errorf("%s: internal body: {{link}} not on its own line", l)
		}
	}
	if s, b := DefaultExternalMail("xx"); s != langTexts["en"].extSubject || b != langTexts["en"].extBody {
		t.Error("an unknown language's external mail is not the English one")
	}
	if s, b := DefaultInternalMail(""); s != langTexts["en"].intSubject || b != langTexts["en"].intBody {
		t.Error("an unknown language's internal mail is not the English one")
	}
}

func TestCodeMail(t *testing.T) {
	subject, body := CodeMail("en", "123456")
	if subject != "Your one-time code" || body != "Your one-time code is 123456. The code is valid for 10 minutes." {
		t.Errorf("English code mail: %q / %q", subject, body)
	}
	for _, l := range append(slices.Clone(Languages), "", "xx") {
		for _, code := range []string{"123456", "000000", "987650"} {
			subject, body := CodeMail(l, code)
			if subject == "" || strings.Contains(subject, code) {
				t.Errorf("%s: subject %q (the code belongs in the body only)", l, subject)
			}
			if strings.Count(body, code) != 1 {
				t.Errorf("%s: body %q does not hold the code %s once", l, body, code)
			}
			if strings.Contains(body, "{{") || !strings.Contains(body, "10") {
				t.Errorf("%s: body %q", l, body)
			}
		}
	}
	if _, body := CodeMail("xx", "123456"); body != "Your one-time code is 123456. The code is valid for 10 minutes." {
		t.Errorf("an unknown language's code mail: %q", body)
	}
}

func TestDefaultTerms(t *testing.T) {
	for _, l := range Languages {
		terms := DefaultTerms(l)
		if len(terms) < 100 || strings.Contains(terms, "{{") {
			t.Errorf("%s: terms %q", l, terms)
		}
		if l != "en" && terms == DefaultTerms("en") {
			t.Errorf("%s: terms are the English ones", l)
		}
		// Four points: personal listening, no recording or sharing, logged, ends.
		if n := strings.Count(terms, "\n- "); n != 3 {
			t.Errorf("%s: %d bullet points, want 3", l, n)
		}
	}
	for _, l := range []string{"", "xx", "EN"} {
		if DefaultTerms(l) != "" {
			t.Errorf("DefaultTerms(%q) = %q, want none", l, DefaultTerms(l))
		}
	}
}

func TestPickLanguage(t *testing.T) {
	cases := []struct{ query, accept, want string }{
		{"", "", ""},
		{"no", "", "no"},
		{"se", "fr", "se"},
		{"lv", "en", "lv"},
		{"sv", "", "se"},
		{"nb-NO", "", "no"},
		{"ET", "", "ee"},
		{"xx", "", ""},
		{"xx", "da-DK,da;q=0.9,en;q=0.8", "dk"},
		{"", "fr-FR, fi;q=0.5, en;q=0.4", "fi"},
		{"", "en;q=0.2, lt;q=0.9", "lt"},
		{"", "nn", "no"},
		{"", "sv-FI", "se"},
		{"", "se", ""}, // Northern Sami in a header, not Swedish
		{"", "ee", ""}, // Ewe
		{"", "fr, it", ""},
		{"", "fr, de-AT;q=0.5", "de"},
		{"", "fi;q=0, et", "ee"},
		{"", "*", ""},
		{"", "lv;q=1.5, lt;q=0.1", "lt"},
		{"", "lv;q=abc, lt;q=0.1", "lt"},
		{"", "lv;q=0.1234, lt;q=0.1", "lt"},
		{"", "lv; q = 0.9 , lt;q=0.1", "lv"},
		{"", "lv;q=1.000, lt", "lv"}, // ties go to the first
		{"", "en_US", "en"},
		{"", ",,;;,=,q=", ""},
		{"", strings.Repeat("fr,", 40) + "fi", ""}, // past 32 entries
	}
	for _, c := range cases {
		if got := PickLanguage(c.query, c.accept); got != c.want {
			t.Errorf("PickLanguage(%q, %q) = %q, want %q", c.query, c.accept, got, c.want)
		}
	}
}

func FuzzPickLanguage(f *testing.F) {
	f.Add("", "")
	f.Add("no", "en")
	f.Add("sv-SE", "")
	f.Add("", "da-DK,da;q=0.9,en;q=0.8")
	f.Add("xx", "fi;q=0.5, lt;q=1.0, *;q=0.1")
	f.Add("", "lv;q=1.5;q=0.2")
	f.Add("", "et;Q=0.001")
	f.Fuzz(func(t *testing.T, query, accept string) {
		got := PickLanguage(query, accept)
		if got != "" && !validLanguage(got) {
			t.Fatalf("PickLanguage(%q, %q) = %q, not a language", query, accept, got)
		}
		if validLanguage(query) && got != query {
			t.Fatalf("PickLanguage(%q, %q) = %q, want the query's", query, accept, got)
		}
		// A valid query wins, and the header's answer does not depend on the query then.
		if again := PickLanguage(query, accept); again != got {
			t.Fatalf("not deterministic: %q then %q", got, again)
		}
		if got != "" && !validLanguage(query) && languageFromTag(query) == "" && PickLanguage("", accept) != got {
			t.Fatalf("an unusable query changed the header's answer")
		}
	})
}
