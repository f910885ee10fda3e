package i18n

import (
	"strconv"
	"strings"
	"time"
)

// separators are a language's decimal mark and digit-group separator.
func separators(lang string) (decimal, group string) {
	switch lang {
	case "de":
		return ",", "."
	}
	return ".", ","
}

// Number writes f with decimals digits after the mark, digits grouped by
// three: 1,234.5 in English, 1.234,5 in German.
func Number(lang string, f float64, decimals int) string {
	dec, grp := separators(lang)
	s := strconv.FormatFloat(f, 'f', decimals, 64)
	sign := ""
	if strings.HasPrefix(s, "-") {
		sign, s = "-", s[1:]
	}
	whole, frac, _ := strings.Cut(s, ".")
	var b strings.Builder
	b.WriteString(sign)
	for i, c := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteString(grp)
		}
		b.WriteRune(c)
	}
	if frac != "" {
		b.WriteString(dec)
		b.WriteString(frac)
	}
	return b.String()
}

// DecimalMark is the language's decimal mark: "." in English, "," in German.
func DecimalMark(lang string) string {
	d, _ := separators(lang)
	return d
}

// Int writes n with its digits grouped: 1,234 in English, 1.234 in German.
func Int(lang string, n int64) string { return Number(lang, float64(n), 0) }

// Date writes t's day: 2026-12-06 in English (the appliance's ISO habit),
// 6.12.2026 in German.
func Date(lang string, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	switch lang {
	case "de":
		return t.Format("2.1.2006")
	}
	return t.Format("2006-01-02")
}

// DateTime writes t's day and time to the second: 2026-12-06 14:03:05 in
// English, 6.12.2026 14:03:05 in German; "" for the zero time.
func DateTime(lang string, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return Date(lang, t) + " " + t.Format("15:04:05")
}

// DateMinute is DateTime to the minute.
func DateMinute(lang string, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return Date(lang, t) + " " + t.Format("15:04")
}
