// Package sip parses SIP messages (RFC 3261) and the SDP bodies (RFC 4566)
// they carry, as found in the UDP and TCP payloads of a call capture. It
// extracts what the recorder needs to name a call and pair its RTP streams:
// Call-ID, the From and To parties (display name, user part such as a phone
// number, host, tag), CSeq, User-Agent and the SDP media descriptions
// (connection address, port, payload types with their rtpmap, direction,
// and whether the media is secured: a=crypto, a=fingerprint, a=zrtp-hash,
// without keeping any key).
//
// # What is understood
//
// Request and status lines; header names in any case and in their compact
// forms (i Call-ID, f From, t To, l Content-Length, c Content-Type; m Contact
// and v Via are recognised and skipped); folded continuation lines; quoted
// display names with backslash escapes; name-addr and addr-spec values;
// sip:, sips: and tel: URIs; CRLF or bare LF line ends; leading empty lines
// (keep-alives). The body is delimited by Content-Length when present, else
// it runs to the end of the payload. SDP is taken from an application/sdp
// body, from the first application/sdp part of a multipart body (best
// effort, no nesting), or from an untyped body that starts with "v=".
//
// # Robustness
//
// Parse is called on every non-RTP payload of a capture, most of which are
// not SIP at all, so rejecting them is cheap: a few byte comparisons and no
// allocation before [ErrNotSIP] is returned. Input is untrusted: the parser
// never panics, never reads past the buffer and keeps only the first
// occurrence of each header it uses, at most [MaxMedia] media sections,
// [MaxFormats] formats and [MaxRTPMaps] rtpmap attributes, so what it
// allocates is bounded by a small multiple of the input. A message cut short
// by a capture's snap length gives what was complete: a header or SDP line
// cut in the middle is dropped rather than returned truncated.
package sip
