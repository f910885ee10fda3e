// Package capture reads pcap and pcapng captures as a stream and extracts
// UDP datagrams and TCP segment payloads from them, keeping for every
// payload byte its offset in the original capture bytes.
//
// # Why a reader of its own
//
// The recorder's placement map says where every audio payload sits in the
// original capture, so that the original stays the one copy of the audio
// and every rendering reads from it. That needs the offset in the uploaded
// bytes of each payload piece, also when IP fragmentation has spread one
// datagram over several packets. gopacket, the usual choice, decodes into
// layers and reassembles fragments (ip4defrag) into new buffers without
// keeping where each byte came from. This reader is standard library
// only, keeps the offsets through every layer and through reassembly
// (TestPiecesInvariant), allocates nothing per packet (TestZeroAllocs,
// BenchmarkPacket), and is fuzzed (FuzzReader, FuzzDecode). Reading and decoding plain pcap together run
// at 2.8 GB/s, 12 M packets/s (BENCHMARKS.md, "Decode":
// go test -run '^$' -bench . ./recorder/capture/).
//
// # Reading
//
// Decompress undoes an optional gzip layer. NewReader detects the format:
// pcap in either byte order with microsecond or nanosecond timestamps (and
// the modified-pcap variant), or pcapng in either byte order, with any
// number of sections, interfaces (link type, snaplen, if_tsresol,
// if_tsoffset), enhanced, simple and obsolete packet blocks; other blocks
// are skipped by length. Reader.Next returns one Packet at a time. The
// input goes through one 16 KiB buffer and is never held whole: a packet's
// bytes alias that buffer until the next call, and only a record larger
// than the buffer is copied into a second buffer, which grows as the bytes
// actually arrive and is let go at the next call when it grew beyond 128
// KiB (a 64 KiB offload segment's buffer is kept for the next one).
// Records are capped at 16 MiB (pcap records at the larger of 256 KiB and
// the file's snaplen).
//
// # Offsets
//
// Packet.Off is the exact offset of Packet.Data[0] in the byte stream given
// to NewReader (after Decompress, if used). Decoder.Decode keeps that
// relation down to the payload: for every Datagram, concatenating
// input[p.Off:p.Off+p.Len] over its Pieces gives Payload. A payload
// reassembled from IP fragments has one piece per fragment (a fragment
// overlapping bytes already held contributes only its new bytes: the first
// copy of a byte wins).
//
// # Decoding
//
// Link types: Ethernet (with 802.1Q/802.1ad/QinQ tags, LLC/SNAP, PPPoE,
// MPLS), Linux cooked v1 and v2, BSD NULL and LOOP (address family in
// either byte order), raw IP. Network: IPv4 with options and IPv6 with
// extension headers, both with fragment reassembly. Transport: UDP, and
// TCP payloads one segment at a time (no stream reassembly). Checksums are
// not verified: captures on the sending host carry offloaded, unfilled
// checksums. Snaplen-truncated packets yield the payload bytes that were
// captured; nothing past the captured bytes is read.
//
// # Memory
//
// In the steady state neither Reader.Next nor Decoder.Decode allocate. The
// reassembly state is bounded: at most 64 datagrams in flight (the oldest
// is evicted to make room), 65535 bytes and 128 distinct byte runs each,
// 128 KiB of buffers for all of them together (the oldest are evicted to
// make room; a datagram's buffer holds the bytes its fragments captured,
// whatever offsets they claim), and a datagram is dropped 30 s of capture
// time after its first fragment. Fragments with inconsistent lengths drop
// their datagram.
//
// # Errors
//
// Reader errors are sticky and wrap ErrUnknownFormat, ErrTruncated (an
// input cut inside a record, itself wrapping io.ErrUnexpectedEOF) or
// ErrCorrupt, or carry the underlying read error. Decode errors concern a
// single packet and wrap ErrMalformed, or are ErrLinkType.
package capture
