// Package bytesize writes sizes in bytes for people (1.5 MiB), the same
// way on the web pages and in the command line's reports.
package bytesize

import "fmt"

// Format gives n with one decimal in GiB, MiB or KiB (powers of 1024) from
// 1 KiB up; below that the whole number followed by unit, the word for
// single bytes ("B", "bytes").
func Format(n int64, unit string) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d %s", n, unit)
}
