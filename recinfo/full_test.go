package recinfo

import (
	"time"

	"github.com/callvault/callvault/codec"
)

// full returns a document with every field set (allSet checks it), so that
// its JSON names every tag of the document.
func full() *Info {
	at := time.Date(2026, 11, 20, 9, 30, 0, 123456789, time.UTC)
	dtmf := []DTMF{{Digit: "#", StartMs: 1500, DurationMs: 120, Stream: 1, InBand: true}}
	return &Info{
		Version: 1,
		Name:    FileName{GUID: "f9e5956e47d460010630009033302ab1", MAC: "009033302ab1", Serial: "11", User: "Åsa Øberg"},
		Result: &Result{
			Origin: at,
			Streams: []Stream{{
				Index: 1, Call: 1, Channel: 1, SSRC: 0xCA110000, PayloadType: 8, Codec: "PCMA", ClockRate: 8000,
				Supported: true, Encrypted: true, Encryption: "dtls-srtp", Src: "10.0.0.1:4000", Dst: "[2001:db8::1]:5000",
				Packets: 1000, Lost: 3, Duplicates: 2, Reordered: 1, CNPackets: 4, EventPackets: 10, JitterMs: 1.25,
				FirstPos: 160, EndPos: 80160, FirstTime: at.Add(20 * time.Millisecond), LastTime: at.Add(10 * time.Second),
				OtherPayloadTypes: []int{101, 13}, DTMF: dtmf,
			}},
			Calls: []Call{{
				Index: 1, CallID: "a84b4c76e66710@pc33.example.com",
				From: Party{Name: "Jānis Bērziņš", Number: "+37120000000"}, To: Party{Name: "Bob", Number: "202"},
				StartPos: 160, EndPos: 80160, Start: at.Add(20 * time.Millisecond), DurationMs: 10000,
				Streams: []int{0, 1}, DTMF: dtmf,
			}},
			Packets: 2000, RTCPPackets: 12, SIPMessages: 7, OtherPackets: 5,
			Warnings: []string{"stream 2: bound reached"},
		},
		Spans:     []codec.Span{{Min: 160, End: 80160}},
		Entries:   2000,
		Truncated: true,
		Damage:    "capture: record cut short",
		Masking: &Masking{
			ReceivedHMAC: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
			Spans:        []MaskSpan{{Stream: 1, StartPos: 12000, EndPos: 13000, Reason: MaskDTMF}},
			EventPackets: 4, Missed: 1,
		},
	}
}
