package recorder

import "sync/atomic"

// Stats is a snapshot of the recorder's counters since New. Counters only
// grow; OpenUploads and Sealing are current values.
type Stats struct {
	OpenUploads int64  // uploads being received now
	Sealing     int64  // recordings whose exports are being rendered for their seal
	Uploads     uint64 // uploads accepted (a recording was created)
	Bytes       uint64 // original bytes stored (decompressed for gzip uploads)
	Packets     uint64 // RTP packets taken into streams
	Lost        uint64 // RTP packets lost (sequence gaps) in stored recordings
	Complete    uint64 // recordings stored complete
	Interrupted uint64 // recordings stored interrupted (cut off, or recovered after a crash)
	Refused     uint64 // uploads refused: bad name, not a capture
	Failed      uint64 // uploads that failed inside (storage errors)
}

// counters are the live values behind Stats.
type counters struct {
	open, sealing                                                         atomic.Int64
	uploads, bytes, packets, lost, complete, interrupted, refused, failed atomic.Uint64
}

// Stats returns the current counters.
func (r *Recorder) Stats() Stats {
	c := &r.stats
	return Stats{
		OpenUploads: c.open.Load(), Sealing: c.sealing.Load(), Uploads: c.uploads.Load(),
		Bytes: c.bytes.Load(), Packets: c.packets.Load(), Lost: c.lost.Load(),
		Complete: c.complete.Load(), Interrupted: c.interrupted.Load(),
		Refused: c.refused.Load(), Failed: c.failed.Load(),
	}
}

// stored counts a finished recording.
func (c *counters) stored(interrupted bool, res *Result) {
	if interrupted {
		c.interrupted.Add(1)
	} else {
		c.complete.Add(1)
	}
	if res == nil {
		return
	}
	c.packets.Add(uint64(max(res.Packets, 0)))
	var lost int
	for _, s := range res.Streams {
		lost += max(s.Lost, 0)
	}
	c.lost.Add(uint64(lost))
}

// refuse counts an upload refused for its name or content.
func (r *Recorder) refuse(err error) error {
	r.stats.refused.Add(1)
	return err
}
