package ui

import "net/url"

// pageLinks returns the links to a list's next page (after cursor next)
// and back to its first page (when this is not the first), keeping the
// filters that are set.
func pageLinks(base string, filters map[string]string, next string, paged bool) (nextURL, firstURL string) {
	keep := url.Values{}
	for k, v := range filters {
		if v != "" {
			keep.Set(k, v)
		}
	}
	if next != "" {
		nv := url.Values{}
		for k, v := range keep {
			nv[k] = v
		}
		nv.Set("cursor", next)
		nextURL = base + "?" + nv.Encode()
	}
	if paged {
		firstURL = base
		if len(keep) > 0 {
			firstURL += "?" + keep.Encode()
		}
	}
	return nextURL, firstURL
}
