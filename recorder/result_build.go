package recorder

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"
)

// innovaphone "Record to URL" captures carry the remote party's RTP from
// UDP port 16388 and the local device's from 16386.
const (
	innovaphoneRemotePort = 16388
	innovaphoneLocalPort  = 16386
)

// Result returns what the capture held. Call it after the last Datagram;
// flows still unconfirmed then are counted as other packets. Calling it
// again gives the same answer.
func (d *Demux) Result() *Result {
	d.FinishTones()
	r := &Result{
		Origin:       d.origin,
		Streams:      make([]Stream, len(d.streams)),
		Calls:        []Call{},
		Packets:      d.packets,
		RTCPPackets:  d.rtcp,
		SIPMessages:  d.sipMsgs,
		OtherPackets: d.other,
	}
	for _, c := range d.cands {
		r.OtherPackets += len(c.held)
	}
	for i, s := range d.streams {
		r.Streams[i] = d.streamResult(s)
	}
	d.buildCalls(r)
	r.Warnings = d.warnings()
	return r
}

func (d *Demux) streamResult(s *stream) Stream {
	f := s.f
	enc := ""
	if s.audio {
		enc = d.encryption(s)
	}
	o := Stream{
		Index:        s.idx,
		SSRC:         f.key.ssrc,
		PayloadType:  s.pt,
		Codec:        s.name,
		ClockRate:    int(s.clock),
		Supported:    s.audio && s.codec.Supported() && enc == "",
		Encrypted:    enc != "",
		Encryption:   enc,
		Src:          f.key.src.String(),
		Dst:          f.key.dst.String(),
		Packets:      s.packets,
		Lost:         s.seq.lost(),
		Duplicates:   s.dups,
		Reordered:    s.reordered,
		CNPackets:    s.cn,
		EventPackets: s.events,
		FirstTime:    s.first,
		LastTime:     s.last,
	}
	if s.clock > 0 {
		o.JitterMs = math.Round(s.jitter/float64(s.clock)*1e6) / 1e3
	}
	if s.havePos {
		o.FirstPos = clampPos(s.minPos)
		o.EndPos = clampPos(s.endPos)
	}
	for _, pt := range s.others[:s.nOthers] {
		o.OtherPayloadTypes = append(o.OtherPayloadTypes, int(pt))
	}
	return o
}

func clampPos(p int64) uint32 {
	return uint32(min(max(p, 0), math.MaxUint32))
}

// buildCalls groups streams into calls, assigns channels and fills
// r.Calls and each stream's Call and Channel. A leg is one direction's
// streams in one SIP dialog (or in none): a direction that carried two
// successive calls is two legs. The legs of one dialog form a call, and so
// do a leg and its reverse direction's leg of the same dialog.
func (d *Demux) buildCalls(r *Result) {
	type legKey struct {
		dir  *direction
		call int // SIP call, -1 for none
	}
	legIdx := map[legKey]int{}
	var legs []legKey
	var legStreams [][]int
	for _, dir := range d.dirList {
		for _, f := range dir.flows {
			for _, s := range f.streams {
				k := legKey{dir, d.streamCall(s)}
				li, ok := legIdx[k]
				if !ok {
					li = len(legs)
					legIdx[k] = li
					legs = append(legs, k)
					legStreams = append(legStreams, nil)
				}
				legStreams[li] = append(legStreams[li], s.idx)
			}
		}
	}

	// Union-find over legs.
	parent := make([]int, len(legs))
	for i := range parent {
		parent[i] = i
	}
	find := func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	union := func(a, b int) {
		a, b = find(a), find(b)
		if a != b {
			parent[max(a, b)] = min(a, b)
		}
	}
	bySIP := map[int]int{} // SIP call → first leg in it
	for i, k := range legs {
		if rev := d.dirs[dirKey{src: k.dir.key.dst, dst: k.dir.key.src}]; rev != nil {
			if j, ok := legIdx[legKey{rev, k.call}]; ok {
				union(i, j)
			}
		}
		if k.call < 0 {
			continue
		}
		if j, ok := bySIP[k.call]; ok {
			union(i, j)
		} else {
			bySIP[k.call] = i
		}
	}

	// Each group of legs is a call.
	type group struct {
		dirs    []*direction
		streams []int
		first   time.Time
		sipCall int
	}
	groups := map[int]*group{}
	var order []*group
	for i, k := range legs {
		root := find(i)
		g := groups[root]
		if g == nil {
			g = &group{sipCall: k.call}
			groups[root] = g
			order = append(order, g)
		}
		if !slices.Contains(g.dirs, k.dir) {
			g.dirs = append(g.dirs, k.dir)
		}
		for _, si := range legStreams[i] {
			s := d.streams[si]
			g.streams = append(g.streams, si)
			if !s.first.IsZero() && (g.first.IsZero() || s.first.Before(g.first)) {
				g.first = s.first
			}
		}
	}
	slices.SortStableFunc(order, func(a, b *group) int { return a.first.Compare(b.first) })

	for ci, g := range order {
		slices.Sort(g.streams)
		c := Call{Index: ci, Streams: g.streams}
		if g.sipCall >= 0 {
			sc := d.sipCalls[g.sipCall]
			c.CallID = sc.callID
			c.From = Party{Name: sc.from.Display, Number: sc.from.User}
			c.To = Party{Name: sc.to.Display, Number: sc.to.User}
		}
		channels := assignChannels(g.dirs)
		have := false
		var lo, hi int64
		for _, si := range g.streams {
			s := d.streams[si]
			r.Streams[si].Call = ci
			r.Streams[si].Channel = channels[s.f.dir]
			if !s.havePos {
				continue
			}
			if !have {
				lo, hi, have = s.minPos, s.endPos, true
			}
			lo, hi = min(lo, s.minPos), max(hi, s.endPos)
		}
		if have {
			c.StartPos, c.EndPos = clampPos(lo), clampPos(hi)
			c.Start = d.origin.Add(time.Duration(c.StartPos) * time.Second / 8000)
			c.DurationMs = int64(c.EndPos-c.StartPos) / 8
		} else {
			c.Start = g.first
		}
		for _, si := range g.streams {
			s := d.streams[si]
			for _, rec := range s.dtmf {
				dt := DTMF{
					Digit:      string(rec.digit),
					StartMs:    (rec.pos - int64(c.StartPos)) / 8,
					DurationMs: rec.dur * 1000 / rec.clock,
					Stream:     si,
					InBand:     rec.inband,
				}
				r.Streams[si].DTMF = append(r.Streams[si].DTMF, dt)
				c.DTMF = append(c.DTMF, dt)
			}
		}
		slices.SortStableFunc(c.DTMF, func(a, b DTMF) int {
			return cmp.Or(cmp.Compare(a.StartMs, b.StartMs), cmp.Compare(a.Stream, b.Stream))
		})
		r.Calls = append(r.Calls, c)
	}
}

// assignChannels puts each direction of a call on the left (0, remote) or
// right (1, local) channel: by the innovaphone port convention where it
// applies; otherwise the first direction is left and its reverse right,
// and any further direction joins the channel of a direction sent from
// the same address, else the channel with fewer directions.
func assignChannels(dirs []*direction) map[*direction]int {
	ch := make(map[*direction]int, len(dirs))
	count := [2]int{}
	set := func(dir *direction, c int) {
		ch[dir] = c
		count[c]++
	}
	byKey := make(map[dirKey]*direction, len(dirs))
	for _, dir := range dirs {
		byKey[dir.key] = dir
		switch dir.key.src.Port() {
		case innovaphoneRemotePort:
			set(dir, 0)
		case innovaphoneLocalPort:
			set(dir, 1)
		}
	}
	for _, dir := range dirs {
		if _, ok := ch[dir]; ok {
			continue
		}
		if rev := byKey[dirKey{src: dir.key.dst, dst: dir.key.src}]; rev != nil {
			if c, ok := ch[rev]; ok {
				set(dir, 1-c)
				continue
			}
		}
		c := -1
		for _, o := range dirs {
			if oc, ok := ch[o]; ok && o.key.src.Addr() == dir.key.src.Addr() {
				c = oc
				break
			}
		}
		if c < 0 {
			c = 0
			if count[1] < count[0] {
				c = 1
			}
		}
		set(dir, c)
	}
	return ch
}

// warnings turns the counters into Result.Warnings.
func (d *Demux) warnings() []string {
	var w []string
	add := func(n int, format string) {
		if n > 0 {
			w = append(w, fmt.Sprintf(format, n))
		}
	}
	add(d.outOfRange, "%d audio payloads dropped: position outside the timeline (capture time far from the call's)")
	add(d.unlocated, "%d audio payloads dropped: bytes not located in the capture")
	add(d.offTooBig, "%d audio payload pieces dropped: offset beyond the map's 48-bit range")
	add(d.streamLimit, "%d packets dropped: stream limit reached")
	add(d.candDropped, "%d RTP-looking packets of unconfirmed flows dropped: too many at once")
	add(d.sipDropped, "%d SIP calls or SDP media not kept: limit reached")
	reanchors := 0
	for _, dir := range d.dirList {
		for _, f := range dir.flows {
			reanchors += f.reanchors
		}
	}
	add(reanchors, "%d times an RTP timestamp jump was re-anchored on capture time")
	add(d.digitsDropped, "%d DTMF digits not kept: limit reached")
	add(d.forced, "%d audio payload bytes masked before tone detection was done with them: the capture held too much audio at once")
	return w
}
