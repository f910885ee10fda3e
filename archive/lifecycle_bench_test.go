package archive

import (
	"testing"
	"time"
)

// BenchmarkPreviewExpire counts what a lifecycle run would delete over
// 100k recordings received in 2024 whose 50 owners are no users: with
// retention off every recording past the grace cutoff is decrypted (to
// read its owner), twice (current and new settings); with retention 365
// days each candidate's metadata is decrypted once, to check that its
// retention-index entry is the one its metadata gives.
func BenchmarkPreviewExpire(b *testing.B) {
	now := time.Date(2026, 12, 6, 11, 0, 0, 0, time.UTC)
	a := OpenTestOptions(b, Options{InitialMmapSize: 1 << 30, Now: func() time.Time { return now }})
	bulkRecordings(b, a, 100_000)
	ctx := b.Context()
	for _, c := range []struct {
		name string
		days int
		want ExpirePreview
	}{
		{"100k/retention-off", 0, ExpirePreview{Grace: 100_000}},
		{"100k/retention-365", 365, ExpirePreview{Retention: 100_000}},
	} {
		b.Run(c.name, func(b *testing.B) {
			s, err := a.Settings(ctx)
			if err != nil {
				b.Fatal(err)
			}
			s.RetentionDays = c.days
			for b.Loop() {
				pv, err := a.PreviewExpire(ctx, s)
				if err != nil || pv.Retention != c.want.Retention || pv.Grace != c.want.Grace {
					b.Fatalf("%+v %v", pv, err)
				}
			}
		})
	}
}
