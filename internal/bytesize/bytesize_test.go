package bytesize

import "testing"

func TestFormat(t *testing.T) {
	for _, c := range []struct {
		n    int64
		unit string
		want string
	}{
		{0, "B", "0 B"},
		{1023, "bytes", "1023 bytes"},
		{1024, "B", "1.0 KiB"},
		{1536, "bytes", "1.5 KiB"},
		{1<<20 - 1, "B", "1024.0 KiB"},
		{1 << 20, "B", "1.0 MiB"},
		{5<<30 + 1<<29, "B", "5.5 GiB"},
		{-5, "B", "-5 B"},
	} {
		if got := Format(c.n, c.unit); got != c.want {
			t.Errorf("Format(%d, %q) = %q, want %q", c.n, c.unit, got, c.want)
		}
	}
}
