// Package codec holds the pure audio functions of callvault: G.711 µ-law
// and A-law decoding, G.722 and G.729 decoding, the placement-map entry
// format, the WAV header, and the renderer that turns a recording's original capture
// plus its placement map into PCM16 WAV.
//
// The package does no I/O of its own beyond the io.ReaderAt values a caller
// hands in, holds no mutable package state (its package variables are error
// sentinels, the read-only G.711 decode tables computed at initialisation
// and the G.722 marker octets), and imports nothing from callvault but
// internal/g729core, the G.729 tables and building blocks it shares with
// the encoder the tests use (internal/g729enc).
//
// # G.722
//
// G722Decoder decodes G.722 at 64 kbit/s (sub-band ADPCM with a QMF),
// written from ITU-T Recommendation G.722; g722.go names the clauses and
// tables. Each octet decodes to two 16 kHz samples; the RTP clock of G.722
// runs at 8 kHz (RFC 3551), so on the timeline one octet is one tick, as
// one G.711 byte is. The tests compare it with ffmpeg's decoder sample for
// sample and with a test-only encoder.
//
// G722Marker holds octets that decode to 30 ms of a 1 kHz tone once
// G722MarkerSettle octets 0xFF have brought a decoder, whatever it held, to
// one state (g722marker.go); the recorder writes them where a secure pause
// begins and ends. The test-only encoder made them, and the test that
// checks the table makes it again.
//
// # G.711
//
// DecodeUlaw and DecodeAlaw expand 8-bit G.711 samples into PCM16 in a
// caller-provided buffer, the shape of hex.Decode. They use 256-entry tables
// built once from github.com/zaf/g711's per-sample decoders; the tests check
// all 256 codes of both laws against an independent reference in testdata.
//
// # G.729
//
// G729Decoder decodes G.729, G.729A and G.729B (payload type 18, or
// "G729" in an rtpmap): 10-byte frames of 10 ms, as many as a payload
// holds, and the 2-byte SID frames of Annex B, which decode as silence
// (not comfort noise). It is written from the ITU-T recommendation
// (g729.go names the sections; the tables and the building blocks an
// encoder shares are in internal/g729core) in floating
// point, with the Annex A post-filter. It follows the recommendation's
// fixed-point reference decoder to a correlation of 0.999 (its output for
// test frames is in testdata), and ffmpeg's decoder, which has the full
// G.729 post-filter, to 0.997 on a real capture. A G.729 frame depends on the
// frames before it, so the renderer decodes G.729 in windows with a
// warm-up (see g729render.go): any range renders the same samples however
// it is reached. Payloads sit at their RTP timestamps; lost packets and
// pauses under voice activity detection are silence.
//
// # Codecs not decoded
//
// Payloads of other codecs (Opus, G.722 where not decoded, GSM, iLBC,
// AMR, ...) are kept in the original capture with their map entries and
// render as silence; the recording says which streams are not supported.
// Opus would need a decoder of RFC 6716 (SILK, CELT and the hybrid mode,
// with the range decoder and the packet framing of its TOC byte): no Go
// module for it is available to this build and cgo to libopus is not an
// option for a static binary, so it would be written here from RFC 6716
// and its reference code (BSD-licensed) and checked against the RFC's test
// vectors; its output is 48 kHz (RTP clock 48000) and would render
// resampled to the timeline's rate.
//
// A stream not supported when its recording was made stays silent even
// once this package decodes its codec (recinfo.Result.Layout keeps the
// stream's ingest-time "supported" flag), so the canonical exports a seal
// signed never change.
//
// # Placement maps
//
// A placement map is a flat sequence of EntrySize-byte entries in arrival
// order (see Entry). Each entry says where one piece of RTP payload sits in
// the original capture (Off, Len) and where it goes on the recording's
// timeline (Pos, in samples of an 8 kHz clock from the recording's origin).
// A map is read in blocks of EntriesPerBlock entries (the last block may be
// short); the map's index keeps one Span per block, so a reader can find the
// blocks that overlap a time range without reading the whole map. That is
// map version 1; maps are written in version 2 now (MapEncoder, mapv2.go),
// which holds the same entries in blocks of at most MapBlockV2 bytes and
// 8,192 entries, each ending with a slot giving its length (MapBlocksV2
// finds them); a steady call's entries repeat the delta two entries back
// and take a few run slots per block. A renderer reads both, telling them
// apart by the version 2 header.
//
// # Rendering
//
// A Segment pairs an original capture and its map with a Layout: which
// streams are rendered on which channel with which codec, and the window
// [Start, End) of the timeline to render. Sample i of a segment's output is
// the channel mix at timeline position Start+i. Positions no entry covers
// are silence. When two entries cover the same sample of a channel, the one
// later in map order wins. Entries of streams with Channel -1, of streams
// the layout does not list, or of codecs this package cannot decode are
// skipped; entries flagged FlagDTMF render as silence when DTMF is masked.
// A G.711 entry's Len bytes cover Len positions; a G.729 entry's cover 80
// positions a frame (Codec.Samples).
//
// WAVReader serves the segments concatenated in order as one PCM16 WAV
// (stereo, or a saturating mono mix) with an exact 44-byte header, as an
// io.ReadSeeker suitable for http.ServeContent. Renderer renders a range of
// one segment's timeline into per-channel PCM for other consumers.
//
// The WAV is 8 kHz, or 16 kHz when a segment renders a G.722 stream
// (Layout.Rate); then every tick of the timeline is two samples, the G.711
// payloads and the G.729 decode (the same 8 kHz samples as in an 8 kHz
// rendering) are upsampled by a half-band filter (their samples kept at the
// even positions; the filter rings into the odd positions of silence next
// to them, see UpsampleCheck) and G.722 is decoded in windows of the timeline, each
// after a warm-up, so that any range renders to the same bytes however it
// is reached (render16.go).
//
// # Memory and I/O
//
// A reader renders in blocks of RenderBlock samples and keeps the last
// rendered block, the last map block read and one small window of original
// bytes: under 64 KiB plus one map block, whatever the recording's length.
// With a G.729 stream it also keeps the map index of the entry behind each
// sample of the block (so that the later entry wins over G.711 or G.722),
// 128 KiB, and decodes each window from a warm-up of 20 frames per stream.
// At 16 kHz it also keeps the last two decoded G.722 windows, about
// 400 KiB, and decodes each window it renders in full (1.2 times the
// window's payloads with the warm-up).
// A Read or Seek deep into a recording reads only the map blocks whose Span
// overlaps the samples needed (one ReadAt per block) and only the original
// bytes those entries point at, with reads of neighbouring payloads
// coalesced into one ReadAt when the gap between them is small. Every
// ReadAt on an archive blob costs a decryption, so these counts are what
// makes Range requests fast.
package codec
