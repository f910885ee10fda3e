package pgkv

import (
	"sync"

	"github.com/callvault/callvault/archive/kv"
)

var _ kv.Prefetcher = (*tx)(nil)

// prefetchObjects is how many objects Prefetch reads at once.
const prefetchObjects = 16

// Prefetch reads the values of keys in the top-level bucket name with one
// query and, in a blob bucket, their objects prefetchObjects at a time,
// and keeps them in the transaction as Get would; a key the query does
// not find is kept as absent. Keys already read or written in the
// transaction, and objects it fails to read, are left to Get.
func (t *tx) Prefetch(name []byte, keys [][]byte) {
	b := t.lookup(nil, name)
	if b == nil || t.err != nil || len(keys) == 0 {
		return
	}
	want := make([][]byte, 0, len(keys))
	for _, k := range keys {
		if _, ok := t.values[b.id][string(k)]; !ok {
			want = append(want, k)
		}
	}
	if len(want) == 0 {
		return
	}
	rows, err := t.conn.Query(t.ctx, `SELECT key, kind, value FROM kv_rows WHERE bucket = $1 AND key = ANY($2)`, b.id, want)
	if err != nil {
		// A failed statement aborts the transaction: keep the cause
		// rather than the next read's "transaction is aborted".
		t.fail(err)
		return
	}
	type found struct {
		key   []byte
		kind  int16
		value []byte
		c     cached
		done  bool
	}
	var got []*found
	for rows.Next() {
		f := &found{}
		if err := rows.Scan(&f.key, &f.kind, &f.value); err != nil {
			rows.Close()
			t.fail(err)
			return
		}
		got = append(got, f)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		t.fail(err)
		return
	}
	// Objects concurrently; rows' own values at once. resolve is not
	// called from the goroutines: it may fail the transaction, and the
	// transaction is one goroutine's.
	get := t.s.objects.get
	if b.cache {
		get = t.s.objects.getCached
	}
	sem := make(chan struct{}, prefetchObjects)
	var wg sync.WaitGroup
	for _, f := range got {
		if f.kind != kindObject {
			f.c, f.done = t.resolve(f.kind, f.value, b.shred, b.cache), true
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if v, err := get(t.ctx, string(f.value)); err == nil {
				f.c, f.done = cached{kind: kindValue, value: v, ok: true}, true
			}
		}()
	}
	wg.Wait()
	m := t.values[b.id]
	if m == nil {
		m = map[string]cached{}
		t.values[b.id] = m
	}
	present := make(map[string]bool, len(got))
	for _, f := range got {
		present[string(f.key)] = true
		if f.done {
			m[string(f.key)] = f.c
		}
	}
	for _, k := range want { // absent in this snapshot
		if !present[string(k)] {
			m[string(k)] = cached{}
		}
	}
}
