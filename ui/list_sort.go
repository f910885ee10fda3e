package ui

import (
	"bytes"
	"cmp"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/callvault/callvault/archive"
)

// The list's sort keys and page sizes (URL: sort, order, page, size).
const (
	sortDate   = "date"
	sortLength = "length"
	sortUser   = "user"
	sortParty  = "party"
)

var listPageSizes = []int{25, 50, 100, 200}

// listView is how the list is ordered and which page shows.
type listView struct {
	Sort  string // sortDate...
	Desc  bool
	Page  int // 1-based
	Size  int
	Total int // calls matching the filter
}

// parseListView reads sort, order, page and size; ok is false for a page
// that is not a positive number.
func parseListView(q url.Values) (v listView, ok bool) {
	v = listView{Sort: sortDate, Desc: true, Page: 1, Size: listPageSize}
	switch s := q.Get("sort"); s {
	case sortLength, sortUser, sortParty:
		v.Sort, v.Desc = s, false
	}
	switch q.Get("order") {
	case "asc":
		v.Desc = false
	case "desc":
		v.Desc = true
	}
	if s, err := strconv.Atoi(q.Get("size")); err == nil && slices.Contains(listPageSizes, s) {
		v.Size = s
	}
	if p := q.Get("page"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 {
			return v, false
		}
		v.Page = n
	}
	return v, true
}

// sortKey is what the list sorts a call on: at and head are the time and
// ID of the call's newest segment the viewer may read (where the time
// index places the call).
type sortKey struct {
	at               time.Time
	head             archive.ID
	durMs            int64
	userKey, withKey string
}

// cmpKeys orders by v; ties go newest first, then by the head's ID (as
// the time index does), so pages never repeat or skip a call.
func cmpKeys(a, b *sortKey, v listView) int {
	var c int
	switch v.Sort {
	case sortLength:
		c = cmp.Compare(a.durMs, b.durMs)
	case sortUser:
		c = cmp.Compare(a.userKey, b.userKey)
	case sortParty:
		c = cmp.Compare(a.withKey, b.withKey)
	case sortDate:
		c = a.at.Compare(b.at)
	}
	if v.Desc {
		c = -c
	}
	if c == 0 {
		c = b.at.Compare(a.at)
	}
	if c == 0 {
		c = bytes.Compare(b.head[:], a.head[:])
	}
	return c
}

// sortRows orders rows by v (cmpKeys, then by their selection value).
func sortRows(rows []listRow, v listView) {
	slices.SortStableFunc(rows, func(a, b listRow) int {
		if c := cmpKeys(&a.sortKey, &b.sortKey, v); c != 0 {
			return c
		}
		return strings.Compare(a.Select, b.Select)
	})
}

// pageOf is rows' slice for page v.Page (clamped to the last page).
func pageOf[T any](rows []T, v *listView) []T {
	v.Total = len(rows)
	last := max(1, (len(rows)+v.Size-1)/v.Size)
	v.Page = min(v.Page, last)
	lo := (v.Page - 1) * v.Size
	return rows[lo:min(lo+v.Size, len(rows))]
}

// listLink is a list URL with filters f and view v.
func listLink(f map[string]string, v listView) string {
	q := url.Values{}
	for k, s := range f {
		if s != "" {
			q.Set(k, s)
		}
	}
	if v.Sort != sortDate {
		q.Set("sort", v.Sort)
	}
	if def := v.Sort == sortDate; v.Desc != def {
		if v.Desc {
			q.Set("order", "desc")
		} else {
			q.Set("order", "asc")
		}
	}
	if v.Size != listPageSize {
		q.Set("size", strconv.Itoa(v.Size))
	}
	if v.Page > 1 {
		q.Set("page", strconv.Itoa(v.Page))
	}
	if len(q) == 0 {
		return "/"
	}
	return "/?" + q.Encode()
}

// sortHead is a column header's link and state.
type sortHead struct {
	URL  string
	Aria string // "ascending", "descending" or "" (aria-sort)
}

// pageLinkItem is one page number on the pager ("" URL: the gap "…").
type pageLinkItem struct {
	N       int
	URL     string
	Current bool
}

// listNav builds the sort headers, page numbers and page size links.
func listNav(f map[string]string, v listView) (heads map[string]sortHead, pages []pageLinkItem, sizes []pageLinkItem) {
	heads = map[string]sortHead{}
	for _, s := range []string{sortDate, sortLength, sortUser, sortParty} {
		w := listView{Sort: s, Desc: s == sortDate, Page: 1, Size: v.Size}
		h := sortHead{}
		if s == v.Sort {
			w.Desc = !v.Desc
			h.Aria = "ascending"
			if v.Desc {
				h.Aria = "descending"
			}
		}
		h.URL = listLink(f, w)
		heads[s] = h
	}
	last := max(1, (v.Total+v.Size-1)/v.Size)
	gap := false
	for n := 1; n <= last; n++ {
		if n <= 2 || n > last-2 || (n >= v.Page-2 && n <= v.Page+2) {
			w := v
			w.Page = n
			pages = append(pages, pageLinkItem{N: n, URL: listLink(f, w), Current: n == v.Page})
			gap = false
		} else if !gap {
			pages = append(pages, pageLinkItem{})
			gap = true
		}
	}
	if last == 1 {
		pages = nil
	}
	for _, s := range listPageSizes {
		w := v
		w.Size, w.Page = s, 1
		sizes = append(sizes, pageLinkItem{N: s, URL: listLink(f, w), Current: s == v.Size})
	}
	return heads, pages, sizes
}
