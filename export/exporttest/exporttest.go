// Package exporttest edits downloaded zips for the tests of export and of
// `callvault verify`: the one zip rewriter both use. Only tests import it.
package exporttest

import (
	"archive/zip"
	"bytes"
	"io"
	"testing"
)

// Rewrite copies a zip, passing each file's content through edit; a file
// whose edit returns nil is left out. Names, methods and times are kept.
func Rewrite(t testing.TB, in []byte, edit func(name string, b []byte) []byte) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(in), int64(len(in)))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		b = edit(f.Name, b)
		if b == nil {
			continue
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.Name, Method: f.Method, Modified: f.Modified})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}
