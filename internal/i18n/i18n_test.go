package i18n

import (
	"html/template"
	"strings"
	"testing"
	"time"
)

func TestNumber(t *testing.T) {
	cases := []struct {
		lang string
		f    float64
		d    int
		want string
	}{
		{"de", 1234.5, 1, "1.234,5"},
		{"en", 1234.5, 1, "1,234.5"},
		{"de", 1234567, 0, "1.234.567"},
		{"en", 999, 0, "999"},
		{"de", -1234.25, 2, "-1.234,25"},
		{"de", 0.5, 1, "0,5"},
		{"xx", 1000, 0, "1,000"},
	}
	for _, c := range cases {
		if got := Number(c.lang, c.f, c.d); got != c.want {
			t.Errorf("Number(%q, %v, %d) = %q, want %q", c.lang, c.f, c.d, got, c.want)
		}
	}
	if got := Int("de", 100000); got != "100.000" {
		t.Errorf("Int = %q", got)
	}
}

func TestDates(t *testing.T) {
	at := time.Date(2026, 12, 6, 9, 5, 7, 0, time.UTC)
	if got := Date("de", at); got != "6.12.2026" {
		t.Errorf("Date de = %q", got)
	}
	if got := DateTime("de", at); got != "6.12.2026 09:05:07" {
		t.Errorf("DateTime de = %q", got)
	}
	if got := DateTime("en", at); got != "2026-12-06 09:05:07" {
		t.Errorf("DateTime en = %q", got)
	}
	if got := DateMinute("de", at); got != "6.12.2026 09:05" {
		t.Errorf("DateMinute de = %q", got)
	}
	if DateTime("de", time.Time{}) != "" || Date("en", time.Time{}) != "" || DateMinute("en", time.Time{}) != "" {
		t.Error("the zero time is not empty")
	}
}

func TestPick(t *testing.T) {
	match := func(tag string) string {
		switch Primary(tag) {
		case "en":
			return "en"
		case "de":
			return "de"
		}
		return ""
	}
	cases := []struct{ accept, want string }{
		{"de-DE,de;q=0.9,en;q=0.8", "de"},
		{"fr-FR, en;q=0.5, de;q=0.7", "de"},
		{"en-GB", "en"},
		{"fr, it", ""},
		{"", ""},
		{"de;q=2, en;q=0.1", "en"}, // a weight above 1 is malformed
		{"de;q=0, en;q=0.001", "en"},
		{"DE_at", "de"},
		{strings.Repeat("x,", 40) + "de", ""}, // past 32 entries
	}
	for _, c := range cases {
		if got := Pick(c.accept, match); got != c.want {
			t.Errorf("Pick(%q) = %q, want %q", c.accept, got, c.want)
		}
	}
}

func FuzzPick(f *testing.F) {
	f.Add("de-DE,de;q=0.9,en;q=0.8")
	f.Add("en;q=1.000;q=0.5")
	f.Add(";q=,")
	f.Fuzz(func(t *testing.T, accept string) {
		got := Pick(accept, func(tag string) string {
			if Primary(tag) == "de" {
				return "de"
			}
			return ""
		})
		if got != "" && got != "de" {
			t.Fatalf("Pick(%q) = %q", accept, got)
		}
		if got == "de" && !strings.Contains(strings.ToLower(accept), "de") {
			t.Fatalf("Pick(%q) = de without de in the header", accept)
		}
	})
}

func TestTemplateKeys(t *testing.T) {
	fns := template.FuncMap{"t": func(k string, args ...any) string { return k }}
	tpl := template.Must(template.New("a").Funcs(fns).Parse(
		`{{define "x"}}{{if .A}}{{t "if.key"}}{{else}}{{range .B}}{{t "range.key" .}}{{end}}{{end}}{{end}}` +
			`<p title="{{t "attr.key"}}">{{with .C}}{{printf "%s" (t "nested.key")}}{{end}}</p>{{template "x" (t "pipe.key")}}`))
	keys := map[string]bool{}
	if err := TemplateKeys(tpl, "t", keys); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"if.key", "range.key", "attr.key", "nested.key", "pipe.key"} {
		if !keys[k] {
			t.Errorf("key %q not found in %v", k, keys)
		}
	}
	if len(keys) != 5 {
		t.Errorf("keys = %v", keys)
	}
	bad := template.Must(template.New("b").Funcs(fns).Parse(`{{t .Key}}`))
	if err := TemplateKeys(bad, "t", map[string]bool{}); err == nil {
		t.Error("a key that is not a literal passed")
	}
}

func TestCheck(t *testing.T) {
	cats := map[string]map[string]string{
		"en": {"a": "A", "b": "B"},
		"de": {"a": "A", "c": "C"},
	}
	err := Check(cats, map[string]bool{"a": true, "b": true})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{`de: key "b" is missing`, `de: key "c" is not used`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if strings.Contains(err.Error(), "en:") {
		t.Errorf("en reported: %v", err)
	}
	if err := Check(map[string]map[string]string{"en": {"a": "A"}, "de": {"a": "A"}}, map[string]bool{"a": true}); err != nil {
		t.Error(err)
	}
}
