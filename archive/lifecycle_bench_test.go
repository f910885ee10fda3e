package archive

import (
	"fmt"
	"testing"
	"time"

	"github.com/callvault/callvault/archive/kv"
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

// BenchmarkExpireCDRs is the daily run's pass over the CDRs: 100k calls
// of 2024, each with one CDR, past the cutoff. "recorded": each call has
// a listed recording (its call-index entry); "orphans": none has, and
// every CDR is deleted (the fixture is written again each round, outside
// the timing).
func BenchmarkExpireCDRs(b *testing.B) {
	const calls = 100_000
	now := time.Date(2026, 12, 6, 11, 0, 0, 0, time.UTC)
	received := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	for _, c := range []struct {
		name     string
		recorded bool
		want     int // calls whose CDRs a run deletes
	}{{"recorded", true, 0}, {"orphans", false, calls}} {
		recorded := c.recorded
		b.Run(c.name, func(b *testing.B) {
			a := OpenTestOptions(b, Options{InitialMmapSize: 1 << 30, Now: func() time.Time { return now }})
			fixture := func() {
				for done := 0; done < calls; {
					err := a.store.Update(func(tx kv.Tx) error {
						for i := 0; i < 5000 && done < calls; i, done = i+1, done+1 {
							guid := fmt.Sprintf("%032x", done)
							rec := cdrRecord{V: cdrV1, CallID: guid, CallerNumber: "+4930123456", Received: received}
							ch := a.callHash(guid)
							key := append(ch[:], make([]byte, cdrHashLen)...)
							box, err := a.sealState(aadCDR, key, rec)
							if err != nil {
								return err
							}
							if err := tx.Bucket(bucketCDRs).Put(key, box); err != nil {
								return err
							}
							if recorded {
								if err := tx.Bucket(bucketByCall).Put(a.callKey(guid, NewID()), []byte{}); err != nil {
									return err
								}
							}
						}
						return nil
					})
					if err != nil {
						b.Fatal(err)
					}
				}
			}
			fixture()
			for b.Loop() {
				n, err := a.expireCDRs(b.Context(), now.AddDate(0, 0, -SeatGraceDays), "bench")
				if err != nil || n != c.want {
					b.Fatalf("%d calls' CDRs deleted (%v), want %d", n, err, c.want)
				}
				if !recorded {
					b.StopTimer()
					fixture()
					b.StartTimer()
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*calls), "ns/call")
		})
	}
}
