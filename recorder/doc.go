// Package recorder turns an uploaded call capture into a recording: it
// reads the capture as it streams in (package capture), finds the RTP
// streams and the SIP signalling in it, follows each direction's timeline
// and writes the placement map that says where every audio payload sits in
// the original bytes and where it goes in the call's timeline. It also
// parses upload file names and holds the PUT handler that feeds the
// archive.
//
// What it finds is written down as the recording-info document of package
// recinfo (Info, Result, Stream, Call, DTMF, Party, FileName; this package
// keeps their old names as aliases) and stored, as JSON, with the
// recording; the pages, the API, the exports and `callvault decode` read
// the same types.
//
// # Finding RTP
//
// RTP is recognised by content, not by port: a UDP payload of 12 bytes or
// more with version 2 whose CSRC count, header extension and padding fit
// the datagram. A second byte of 192..223 (payload types 64..95 with the
// marker bit, the range RFC 5761 keeps for RTCP) is RTCP: counted, never
// audio. A flow (source, destination, SSRC) is confirmed as RTP by two
// packets whose sequence number moved on by 1..100 and whose timestamp did
// not go back, or at once when one of its addresses was announced in SDP
// earlier in the capture, or when its direction already carries RTP (a new
// SSRC). The first packets of an unconfirmed flow are held in a small
// bounded buffer and placed once the flow is confirmed.
//
// The RTP header is parsed here (parseRTP) and not by a library, for the
// reason package capture reads captures itself: the placement map needs
// the payload's offset and length inside the datagram (past the CSRCs and
// the header extension, padding left out) to add to the capture offsets of
// the datagram's pieces. parseRTP fills a header value the caller owns with
// the fields and that offset and length, and allocates nothing: the whole
// demux takes 190–210 ns and 0 allocations per packet (BENCHMARKS.md;
// go test -run '^$' -bench BenchmarkDemuxDatagram ./recorder/). It checks
// what keeps other UDP traffic out: version 2, and CSRC count, extension
// length and padding count within the datagram. RTCP is told apart first,
// by its second byte: 192..223 is the range RFC 5761 (section 4) keeps out
// of RTP so that both can share a port, and holds the RTCP packet types in
// use, 200..204 (SR, RR, SDES, BYE, APP), which would read as RTP payload
// types 72..76 with the marker bit. FuzzDemux feeds it arbitrary
// datagrams.
//
// # Timeline
//
// Positions are samples of an 8 kHz clock from the recording's origin: the
// capture time of the first RTP-looking packet minus two seconds, so that
// packets of other flows that were captured a little earlier, or arrived
// reordered, still land at positions >= 0. A flow is anchored at its first
// packet (the rounded capture time, in samples from the origin) and each
// packet is placed at the anchor plus its unwrapped RTP timestamp's
// distance from the anchor's, converted to 8 kHz. Reordered packets
// therefore go back where they belong without buffering, lost packets and
// silence suppression leave silent gaps of the right length, and the two
// directions stay aligned on capture time. When the timestamp-predicted
// and the arrival positions of a packet disagree by more than 1.5 s (a
// sender that restarted its timestamps but kept its SSRC), the flow is
// anchored anew at that packet.
//
// A stream is one direction, one SSRC and one audio payload type: a new
// SSRC or a change of audio codec starts a new stream on the same
// direction and channel. Comfort noise (payload type 13, or CN in SDP) is
// silence. Duplicates (a sequence number seen within the last 1024) are
// dropped; late packets are counted and placed. Payload types come from the
// SDP rtpmap for the flow's addresses, else from the static table of RFC
// 3551; dynamic types without SDP whose packets look like RFC 4733 events
// (whole 4-byte event blocks, reserved bit clear) are taken as
// telephone-events until a packet says otherwise.
//
// # DTMF
//
// RFC 4733 telephone-events 0-15 are recorded as DTMF digits with their
// start (placed by the event's RTP timestamp) and duration; repeated and
// retransmitted end packets count once; events above 15 (fax tones, NSE)
// are not digits. Event packets produce no map entries. Audio entries of
// the same direction that overlap a digit, as far as it is known when the
// audio arrives, carry codec.FlagDTMF so that a renderer can mask them;
// audio captured before the digit's first event packet arrived is not
// flagged.
//
// DTMF sent as tones in the audio is found too (inband.go: Goertzel per
// 105-sample block at the eight DTMF frequencies and the second harmonics,
// twist and relative-peak limits, two blocks to begin); its digits are
// recorded with InBand set, unless the same direction sent the digit as an
// RFC 4733 event at the same time.
//
// # DTMF masking
//
// When the appliance setting or the setting of the upload's owner asks
// for it (archive.Settings.MaskDTMF, archive.User.MaskDTMF), ingest stores
// the capture with every DTMF tone masked (mask.go, hold.go): the audio
// payload bytes of each tone, widened by three blocks of guard on either
// side, in its direction and in the reverse direction (its echo), are
// overwritten with the codec's silence (0xFF PCMU, 0xD5 PCMA, 0xFF
// G.722; G.729, whose bytes are not samples, has the whole payloads that
// overlap a tone replaced by frames that decode to silence, other codecs
// zeroed; inband_codecs.go). Tones are searched for in G.711, G.722
// (decoded in order and filtered down to 8 kHz) and G.729 (decoded in
// order; its tones are allowed 8 dB of reverse twist, as the decoder's
// post-filter sharpens the stronger tone). RFC 4733 digit packets get
// event code 255. No
// digit is kept. A tone is known only some time after it started, so the
// capture bytes wait in a hold buffer until masking is done with them:
// the capture reader's read-ahead and, per audio stream, its last
// toneHold samples (about 90 ms), until a second of capture time after
// the stream's latest audio; nothing reaches the archive unmasked,
// and what a crash loses was never acknowledged. The buffer holds at
// most 256 KiB of capture before the packet being read, and a stream at
// most 128 entries of those 90 ms: audio that has to go before tone
// detection is done with it (a capture whose time stands still, a flood
// of tiny packets at one timestamp) is masked as it goes, listed among
// the masked spans and counted in a warning, so that what is stored
// undecided is silence. The first packets of a flow not yet confirmed as
// RTP are held back for a second of capture time and within those 256
// KiB; what masking then finds to overwrite in them is counted as missed
// (recinfo.Masking.Missed). A tone that the upload's
// end cuts off before it was confirmed is masked all the same. The info
// document records the masked spans and a keyed hash of the capture as
// received: HMAC-SHA-256, under a key derived from the archive's, of its
// SHA-256 (recinfo.Masking, received.go: keyed, so the masked capture and
// the record do not let anyone try candidate digits offline); the seal
// covers it. A live upload without DTMF masking hashes nothing until a
// secure pause is asked for: the archive writer's SHA-256 of the original,
// which the seal needs anyway, is the hash as received up to there. The record of
// the bytes up to each chunk's end is committed with that chunk
// (archive.Writer.NoteOriginal), so an upload cut off by a crash or a full
// disk keeps it for the bytes it keeps.
//
// A streamed upload (a PUT without a length) always goes through the hold
// buffer, so that a secure pause (Recorder.Pause, pause.go) can mask the
// rest of the call in every direction until it is resumed, with a marker
// tone written at both ends of the masked span: 60 ms of 1 kHz in G.711;
// in G.722 30 ms of silence octets that bring the decoder to a known
// state, then 30 ms of octets that decode to 1 kHz from it
// (codec.G722Marker); in G.729 four silence frames, then four frames
// that decode to 1 kHz from the state they leave (pause_g729.go).
//
// # Calls and channels
//
// The two directions between the same addresses form one call, and so do
// all streams whose addresses the SDP of one SIP Call-ID announced; other
// directions are calls of their own. Calls are ordered by their first
// packet.
//
// SDP binds an address to a dialog for the dialog's lifetime: from the
// capture time of the message that announced it until the dialog's BYE
// (or the response to it), or until another Call-ID announces the same
// address; a re-INVITE of the same dialog keeps the binding. Each packet
// belongs to the dialog whose binding of its receiving address (else its
// sending address) contains its capture time, so two successive calls on
// the same ports are two calls, and a stream whose packets span two
// dialogs is split into a stream of each. A packet outside every binding
// goes to the nearest one in time: media before the first INVITE to the
// first dialog, media after the last BYE to the last. A late packet of a
// dialog that has ended (the stream's payload type, a sequence number and
// timestamp close to the stream's and not received yet, captured within
// half a second of the stream's last packet) stays with it even when the
// next dialog on the address has begun.
//
// Within a call the stream sent from UDP port 16388 is the remote party
// (left channel) and the one sent from 16386 the local device (right
// channel), the innovaphone convention; otherwise the first direction seen
// is left and its reverse right.
//
// # Encrypted media
//
// SRTP encrypts the payload and keeps the RTP header, so its streams are
// found like any other but their payloads decode as noise. A stream is
// marked Encrypted (and not Supported; it renders as silence, and the
// original keeps its payloads) when the SDP of its dialog says so (a
// secure profile RTP/SAVP(F) or UDP/TLS/RTP/SAVP(F); a=crypto, or
// a=zrtp-hash, in both the offer and the answer of plain RTP/AVP; where
// the SDP of both its addresses is known, both must say so), when
// ZRTP packets or DTLS records passed between its addresses before its
// last packet, or, without either, when a G.711 stream carries an SRTP
// authentication tag: its payloads exceed their timestamp step by the
// same 4, 10 or 16 bytes in at least 50 consecutive packet pairs and 90 %
// of them. SRTP without SDP and without a tag (a NULL authentication
// suite) cannot be told from G.711 and is decoded as before.
//
// # Bounds
//
// Everything a Demux keeps is bounded whatever the capture holds: streams
// (DemuxOptions.MaxStreams), unconfirmed flows and the packets held for
// them, SIP calls, SDP media addresses and their dialog bindings, the
// address pairs seen carrying ZRTP or DTLS, and the DTMF digits kept. What
// is dropped at a bound is counted and reported in Result.Warnings.
package recorder
