package i18n

import "strings"

// Pick returns the supported language the Accept-Language header prefers:
// match maps one language range ("de-DE", "nb", "EN_gb") to a supported
// language, "" for none; the best by weight wins, the first on a tie. It
// returns "" when no range matches, so the caller applies its own default.
// Only the first 1 KiB and 32 entries of the header are read; a range with
// a malformed weight is skipped.
func Pick(acceptLanguage string, match func(tag string) string) string {
	if len(acceptLanguage) > 1024 {
		acceptLanguage = acceptLanguage[:1024]
	}
	best, bestQ, n := "", 0.0, 0
	for entry := range strings.SplitSeq(acceptLanguage, ",") {
		if n++; n > 32 {
			break
		}
		tag, params, _ := strings.Cut(entry, ";")
		l := match(strings.TrimSpace(tag))
		if l == "" {
			continue
		}
		q, ok := acceptWeight(params)
		if ok && q > bestQ {
			best, bestQ = l, q
		}
	}
	return best
}

// Primary is the primary language subtag of tag, lower-cased: "de" for
// "de-AT", "en" for "EN_gb".
func Primary(tag string) string {
	tag = strings.TrimSpace(tag)
	if i := strings.IndexAny(tag, "-_"); i >= 0 {
		tag = tag[:i]
	}
	return strings.ToLower(tag)
}

// acceptWeight parses the parameters after a language range ("q=0.8"): the
// weight, 1 when absent; ok is false for a malformed one.
func acceptWeight(params string) (q float64, ok bool) {
	q = 1
	for p := range strings.SplitSeq(params, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		if !strings.EqualFold(strings.TrimSpace(k), "q") {
			continue
		}
		v = strings.TrimSpace(v)
		// A qvalue is 0, 1 or a decimal with at most three digits.
		if len(v) == 0 || len(v) > 5 || (v[0] != '0' && v[0] != '1') {
			return 0, false
		}
		f, frac := float64(v[0]-'0'), 0.1
		if len(v) > 1 {
			if v[1] != '.' {
				return 0, false
			}
			for _, c := range []byte(v[2:]) {
				if c < '0' || c > '9' {
					return 0, false
				}
				f += float64(c-'0') * frac
				frac /= 10
			}
		}
		if f > 1 {
			return 0, false
		}
		q = f
	}
	return q, true
}
