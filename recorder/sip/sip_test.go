package sip

import (
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

// msg builds a SIP message from header lines and a body, with CRLF line ends
// and, when cl is true, a Content-Length header that matches the body.
func msg(cl bool, body string, lines ...string) []byte {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l)
		b.WriteString("\r\n")
	}
	if cl {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(body))
	}
	b.WriteString("\r\n")
	b.WriteString(body)
	return []byte(b.String())
}

// crlf turns LF line ends into CRLF.
func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

// sippSDP is the SDP of a SIPp call leg (PCMU + telephone-event): origin
// is the o= line's user, session id and version, media goes to addr:port.
func sippSDP(origin, addr string, port int) string {
	return crlf(fmt.Sprintf(`v=0
o=%s IN IP4 %s
s=-
c=IN IP4 %s
t=0 0
m=audio %d RTP/AVP 0 101
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
a=ptime:20
a=sendrecv
`, origin, addr, addr, port))
}

var (
	// sippOfferSDP is the offer of a SIPp UAC (PCMU + telephone-event).
	sippOfferSDP = sippSDP("user1 53655765 2353687637", "10.0.0.10", 6000)
	sippInvite   = msg(true, sippOfferSDP,
		"INVITE sip:566@10.0.0.20:5090 SIP/2.0",
		"Via: SIP/2.0/UDP 10.0.0.10:5075;branch=z9hG4bK-1453-1-0",
		`From: "mallory" <sip:mallory@10.0.0.10:5075>;tag=1453SIPpTag001`,
		"To: <sip:566@10.0.0.20:5090>",
		"Call-ID: 1-1453@10.0.0.10",
		"CSeq: 1 INVITE",
		"Contact: <sip:mallory@10.0.0.10:5075>",
		"Max-Forwards: 70",
		"User-Agent: SIPp/3.6.1",
		"Subject: Performance Test",
		"Content-Type: application/sdp",
	)
	sippAnswerSDP = sippSDP("bob 2890844527 2890844527", "10.0.0.20", 6002)
	sippOK        = msg(true, sippAnswerSDP,
		"SIP/2.0 200 OK",
		"Via: SIP/2.0/UDP 10.0.0.10:5075;branch=z9hG4bK-1453-1-0",
		`From: "mallory" <sip:mallory@10.0.0.10:5075>;tag=1453SIPpTag001`,
		"To: <sip:566@10.0.0.20:5090>;tag=1424SIPpTag012",
		"Call-ID: 1-1453@10.0.0.10",
		"CSeq: 1 INVITE",
		"Contact: <sip:bob@10.0.0.20:5090;transport=UDP>",
		"Server: SIPp UAS",
		"Content-Type: application/sdp",
	)
)

func pcmuTE() map[uint8]RTPMap {
	return map[uint8]RTPMap{
		0:   {Encoding: "PCMU", ClockRate: 8000, Channels: 1},
		101: {Encoding: "telephone-event", ClockRate: 8000, Channels: 1},
	}
}

var ip = netip.MustParseAddr

type parseCase struct {
	name string
	in   []byte
	want *Message
}

func parseCases() []parseCase {
	compactSDP := crlf(`v=0
o=alice 2890844526 2890844526 IN IP4 192.0.2.101
s=
c=IN IP4 192.0.2.101
t=0 0
m=audio 49172 RTP/AVP 8
a=rtpmap:8 PCMA/8000
`)
	ipv6SDP := crlf(`v=0
o=- 1 1 IN IP6 2001:db8::10
s=call
c=IN IP6 2001:db8::10
t=0 0
a=sendonly
m=audio 16386 RTP/AVP 9 0 101
a=rtpmap:9 G722/8000
a=rtpmap:101 telephone-event/8000/1
m=audio 16388 RTP/AVP 8
c=IN IP6 2001:db8::20
a=recvonly
m=video 0 RTP/AVP 96
c=IN IP4 198.51.100.7/127
a=rtpmap:96 H264/90000
m=image 0 udptl t38
`)
	multipartSDP := crlf(`v=0
o=- 191 1228500736 IN IP4 10.23.1.52
s=IMSS
c=IN IP4 10.23.1.52
t=0 0
m=audio 16756 RTP/AVP 8 103 102
a=rtpmap:103 G726-32/8000
a=ptime:30
a=rtpmap:102 telephone-event/8000/1
`)
	multipartBody := crlf("--unique-boundary-1\n"+
		"Content-Type: application/isup; version=itu-t92+; base=itu-t92+\n"+
		"Content-Disposition: signal; handling=optional\n\n") +
		"\x01\x10\x60\x01\x0a\x00\x02\x0a\x08\x83\x90\x89\x59\x10\x40\x02\x00\r\n" +
		crlf("--unique-boundary-1\nContent-Type: application/sdp\n\n"+multipartSDP+"--unique-boundary-1--\n")

	// A body cut by a snap length: Content-Length promises more.
	full := []byte(string(sippInvite))
	cutAt := strings.Index(string(full), "a=rtpmap:101 tele") + len("a=rtpmap:101 tele")
	truncated := full[:cutAt]
	cutInM := full[:strings.Index(string(full), "m=audio 6000")+len("m=audio 60")]

	sippInviteWant := &Message{
		Request: true, Method: "INVITE", RequestURI: "sip:566@10.0.0.20:5090",
		CallID: "1-1453@10.0.0.10",
		From: Address{Display: "mallory", URI: "sip:mallory@10.0.0.10:5075", User: "mallory",
			Host: "10.0.0.10", Tag: "1453SIPpTag001"},
		To:   Address{URI: "sip:566@10.0.0.20:5090", User: "566", Host: "10.0.0.20"},
		CSeq: 1, CSeqMethod: "INVITE", UserAgent: "SIPp/3.6.1",
		SDP: &SDP{
			Origin: "user1 53655765 2353687637 IN IP4 10.0.0.10", SessionName: "-",
			Conn: ip("10.0.0.10"),
			Media: []Media{{Type: "audio", Port: 6000, Proto: "RTP/AVP", Formats: []uint8{0, 101},
				Conn: ip("10.0.0.10"), RTPMap: pcmuTE(), Direction: "sendrecv"}},
		},
	}

	return []parseCase{
		{"sipp invite with sdp offer", sippInvite, sippInviteWant},
		{"200 ok with sdp answer", sippOK, &Message{
			StatusCode: 200, Reason: "OK", CallID: "1-1453@10.0.0.10",
			From: Address{Display: "mallory", URI: "sip:mallory@10.0.0.10:5075", User: "mallory",
				Host: "10.0.0.10", Tag: "1453SIPpTag001"},
			To: Address{URI: "sip:566@10.0.0.20:5090", User: "566", Host: "10.0.0.20",
				Tag: "1424SIPpTag012"},
			CSeq: 1, CSeqMethod: "INVITE", UserAgent: "SIPp UAS",
			SDP: &SDP{
				Origin: "bob 2890844527 2890844527 IN IP4 10.0.0.20", SessionName: "-",
				Conn: ip("10.0.0.20"),
				Media: []Media{{Type: "audio", Port: 6002, Proto: "RTP/AVP", Formats: []uint8{0, 101},
					Conn: ip("10.0.0.20"), RTPMap: pcmuTE(), Direction: "sendrecv"}},
			},
		}},
		{"compact forms and lower case names", msg(false, compactSDP,
			"INVITE sip:bob@biloxi.example.com SIP/2.0",
			"v: SIP/2.0/TCP client.atlanta.example.com:5060;branch=z9hG4bK74bf9",
			`f: "Alice" <sip:alice@atlanta.example.com>;tag=9fxced76sl`,
			"T: Bob <sip:bob@biloxi.example.com>",
			"i: 3848276298220188511@atlanta.example.com",
			"cseq: 2 INVITE",
			"m: <sip:alice@client.atlanta.example.com;transport=tcp>",
			"USER-AGENT: innovaphone-IP232/13r2",
			"c: application/SDP",
			fmt.Sprintf("l: %d", len(compactSDP)),
		), &Message{
			Request: true, Method: "INVITE", RequestURI: "sip:bob@biloxi.example.com",
			CallID: "3848276298220188511@atlanta.example.com",
			From: Address{Display: "Alice", URI: "sip:alice@atlanta.example.com", User: "alice",
				Host: "atlanta.example.com", Tag: "9fxced76sl"},
			To:   Address{Display: "Bob", URI: "sip:bob@biloxi.example.com", User: "bob", Host: "biloxi.example.com"},
			CSeq: 2, CSeqMethod: "INVITE", UserAgent: "innovaphone-IP232/13r2",
			SDP: &SDP{
				Origin: "alice 2890844526 2890844526 IN IP4 192.0.2.101", Conn: ip("192.0.2.101"),
				Media: []Media{{Type: "audio", Port: 49172, Proto: "RTP/AVP", Formats: []uint8{8},
					Conn: ip("192.0.2.101"), RTPMap: map[uint8]RTPMap{8: {"PCMA", 8000, 1}}, Direction: "sendrecv"}},
			},
		}},
		{"tel uris and escapes", msg(true, "",
			"BYE tel:+1-201-555-0123 SIP/2.0",
			`From: "Bob \"The Builder\" \\ Jr." <tel:+1-201-555-0123;ext=1234>;tag=a48s`,
			"To: tel:+49%2030%20123456;phone-context=example.com;tag=8321234356",
			"Call-ID: a84b4c76e66710@pc33.atlanta.example.com",
			"CSeq: 4711 BYE",
		), &Message{
			Request: true, Method: "BYE", RequestURI: "tel:+1-201-555-0123",
			CallID: "a84b4c76e66710@pc33.atlanta.example.com",
			From: Address{Display: `Bob "The Builder" \ Jr.`, URI: "tel:+1-201-555-0123;ext=1234",
				User: "+1-201-555-0123", Tag: "a48s"},
			To:   Address{URI: "tel:+49%2030%20123456", User: "+49 30 123456", Tag: "8321234356"},
			CSeq: 4711, CSeqMethod: "BYE",
		}},
		{"sip uri forms", msg(true, "",
			"OPTIONS sips:[2001:db8::2]:5061 SIP/2.0",
			`From: Anonymous  Caller <sips:%2B4930123;phone-context=+49@[2001:db8::1]:5061;user=phone>;tag="q;x";foo`,
			`To: "<not;a uri>" <sip:alice:secret@example.com;transport=tls?subject=x>`,
			"Call-ID: 1@h",
			"CSeq: 9 OPTIONS",
		), &Message{
			Request: true, Method: "OPTIONS", RequestURI: "sips:[2001:db8::2]:5061",
			CallID: "1@h",
			From: Address{Display: "Anonymous  Caller",
				URI:  "sips:%2B4930123;phone-context=+49@[2001:db8::1]:5061;user=phone",
				User: "+4930123", Host: "2001:db8::1", Tag: "q;x"},
			To: Address{Display: "<not;a uri>", URI: "sip:alice:secret@example.com;transport=tls?subject=x",
				User: "alice", Host: "example.com"},
			CSeq: 9, CSeqMethod: "OPTIONS",
		}},
		{"ipv6 sdp, media-level connection and directions", msg(true, ipv6SDP,
			"SIP/2.0 183 Session Progress",
			"Call-ID: six",
			"Content-Type: application/sdp; charset=utf-8",
		), &Message{
			StatusCode: 183, Reason: "Session Progress", CallID: "six",
			SDP: &SDP{
				Origin: "- 1 1 IN IP6 2001:db8::10", SessionName: "call", Conn: ip("2001:db8::10"),
				Media: []Media{
					{Type: "audio", Port: 16386, Proto: "RTP/AVP", Formats: []uint8{9, 0, 101}, Conn: ip("2001:db8::10"),
						RTPMap: map[uint8]RTPMap{9: {"G722", 8000, 1}, 101: {"telephone-event", 8000, 1}}, Direction: "sendonly"},
					{Type: "audio", Port: 16388, Proto: "RTP/AVP", Formats: []uint8{8}, Conn: ip("2001:db8::20"), Direction: "recvonly"},
					{Type: "video", Port: 0, Proto: "RTP/AVP", Formats: []uint8{96}, Conn: ip("198.51.100.7"),
						RTPMap: map[uint8]RTPMap{96: {"H264", 90000, 1}}, Direction: "sendonly"},
					{Type: "image", Port: 0, Proto: "udptl", Conn: ip("2001:db8::10"), Direction: "sendonly"},
				},
			},
		}},
		{"folded headers and leading keep-alive", append([]byte("\r\n\r\n"), msg(true, "",
			"SIP/2.0 180 Ringing",
			"From:",
			`   "Folded Name"`,
			"\t<sip:folded@example.com>",
			"  ;tag=ft1",
			"To   : <sip:to@example.com>",
			"Subject: I know you're there,",
			"     pick up the phone",
			"User-Agent: Phone",
			"  Model 7",
			"Call-ID: fold@example.com",
			"CSeq:   7",
			"   INVITE",
		)...), &Message{
			StatusCode: 180, Reason: "Ringing", CallID: "fold@example.com",
			From: Address{Display: "Folded Name", URI: "sip:folded@example.com", User: "folded",
				Host: "example.com", Tag: "ft1"},
			To:   Address{URI: "sip:to@example.com", User: "to", Host: "example.com"},
			CSeq: 7, CSeqMethod: "INVITE", UserAgent: "Phone Model 7",
		}},
		{"multipart/mixed sip-i body", msg(true, multipartBody,
			"INVITE sip:061963177@10.35.60.100:5060;transport=udp SIP/2.0",
			"To:  <sip:061963177@italtel.it;user=phone>",
			"From: <sip:unavailable@hostportion>;tag=00e9d478",
			"Call-ID: 00e9d4a500e9d48-0015-0001-0000-0000@10.35.40.25",
			"CSeq:  1 INVITE",
			"MIME-Version: 1.0",
			`Content-Type: multipart/mixed; boundary="unique-boundary-1"`,
		), &Message{
			Request: true, Method: "INVITE", RequestURI: "sip:061963177@10.35.60.100:5060;transport=udp",
			CallID: "00e9d4a500e9d48-0015-0001-0000-0000@10.35.40.25",
			From:   Address{URI: "sip:unavailable@hostportion", User: "unavailable", Host: "hostportion", Tag: "00e9d478"},
			To:     Address{URI: "sip:061963177@italtel.it;user=phone", User: "061963177", Host: "italtel.it"},
			CSeq:   1, CSeqMethod: "INVITE",
			SDP: &SDP{
				Origin: "- 191 1228500736 IN IP4 10.23.1.52", SessionName: "IMSS", Conn: ip("10.23.1.52"),
				Media: []Media{{Type: "audio", Port: 16756, Proto: "RTP/AVP", Formats: []uint8{8, 103, 102},
					Conn: ip("10.23.1.52"), Direction: "sendrecv", RTPMap: map[uint8]RTPMap{
						103: {"G726-32", 8000, 1}, 102: {"telephone-event", 8000, 1}}}},
			},
		}},
		{"truncated body keeps complete lines", truncated, func() *Message {
			m := *sippInviteWant
			sdp := *m.SDP
			sdp.Media = []Media{{Type: "audio", Port: 6000, Proto: "RTP/AVP", Formats: []uint8{0, 101},
				Conn: ip("10.0.0.10"), RTPMap: map[uint8]RTPMap{0: {"PCMU", 8000, 1}}, Direction: "sendrecv"}}
			m.SDP = &sdp
			return &m
		}()},
		{"truncated inside the m= line", cutInM, func() *Message {
			m := *sippInviteWant
			sdp := *m.SDP
			sdp.Media = nil
			m.SDP = &sdp
			return &m
		}()},
		{"truncated in the headers", sippInvite[:strings.Index(string(sippInvite), "CSeq: 1 IN")+10], &Message{
			Request: true, Method: "INVITE", RequestURI: "sip:566@10.0.0.20:5090",
			CallID: "1-1453@10.0.0.10",
			From: Address{Display: "mallory", URI: "sip:mallory@10.0.0.10:5075", User: "mallory",
				Host: "10.0.0.10", Tag: "1453SIPpTag001"},
			To: Address{URI: "sip:566@10.0.0.20:5090", User: "566", Host: "10.0.0.20"},
		}},
		{"content-length delimits a tcp segment", append(msg(true, "",
			"SIP/2.0 100 Trying", "Call-ID: first", "CSeq: 1 INVITE"), sippOK...), &Message{
			StatusCode: 100, Reason: "Trying", CallID: "first", CSeq: 1, CSeqMethod: "INVITE",
		}},
		{"no content-length, no content-type, bare lf", []byte(
			"ACK sip:bob@example.com SIP/2.0\nCall-ID: lf\nCSeq: 2 ACK\n\nv=0\nc=IN IP4 192.0.2.1\nm=audio 1234 RTP/AVP 0"),
			&Message{Request: true, Method: "ACK", RequestURI: "sip:bob@example.com", CallID: "lf",
				CSeq: 2, CSeqMethod: "ACK", SDP: &SDP{Conn: ip("192.0.2.1"), Media: []Media{{
					Type: "audio", Port: 1234, Proto: "RTP/AVP", Formats: []uint8{0}, Conn: ip("192.0.2.1"), Direction: "sendrecv"}}}}},
		{"other body types and odd values are ignored", msg(true, "v=0\r\nm=audio 1 RTP/AVP 0\r\n",
			"sip/2.0 488 Not Acceptable Here",
			"Call-ID: odd",
			"Call-ID: second-is-ignored",
			"CSeq: 99999999999 INVITE",
			"no colon here",
			": empty name",
			"Content-Type: application/isup",
		), &Message{StatusCode: 488, Reason: "Not Acceptable Here", CallID: "odd", CSeqMethod: "INVITE"}},
		{"sdp with garbage values", msg(true, crlf("v=0\nc=IN IP4 $\nm=audio $ RTP/AVP 8 x 300 -1 127\na=rtpmap:x PCMA/8000\na=rtpmap:8 /8000\na=rtpmap:127 L16/abc/0\n"),
			"SIP/2.0 200 OK", "c: application/sdp"), &Message{StatusCode: 200, Reason: "OK", SDP: &SDP{
			Media: []Media{{Type: "audio", Proto: "RTP/AVP", Formats: []uint8{8, 127}, Direction: "sendrecv",
				RTPMap: map[uint8]RTPMap{127: {"L16", 0, 1}}}}}}},
		{"multipart cut by a snap length", func() []byte {
			full := msg(true, crlf("--b\nContent-Type: application/sdp\n\nv=0\nc=IN IP4 192.0.2.9\nm=audio 7078 RTP/AVP 0\nm=audio 7080 RTP/AVP 8\n--b--\n"),
				"SIP/2.0 200 OK", "Content-Type: multipart/mixed;boundary=b")
			return full[:strings.Index(string(full), "m=audio 7080 RTP/AVP")+12]
		}(), &Message{StatusCode: 200, Reason: "OK", SDP: &SDP{Conn: ip("192.0.2.9"), Media: []Media{{
			Type: "audio", Port: 7078, Proto: "RTP/AVP", Formats: []uint8{0}, Conn: ip("192.0.2.9"), Direction: "sendrecv"}}}}},
		{"multipart without sdp", msg(true, crlf("--b\nContent-Type: text/plain\n\nv=0\n--b--\n"),
			"SIP/2.0 200 OK", "Content-Type: multipart/mixed;boundary=b"), &Message{StatusCode: 200, Reason: "OK"}},
		{"content-length shorter than the body", []byte("SIP/2.0 200 OK\r\nl: 46\r\nc: application/sdp\r\n\r\n" +
			"v=0\r\nc=IN IP4 192.0.2.1\r\nm=audio 9 RTP/AVP 0\r\nm=audio 11 RTP/AVP 0\r\n"),
			&Message{StatusCode: 200, Reason: "OK", SDP: &SDP{Conn: ip("192.0.2.1"), Media: []Media{{
				Type: "audio", Port: 9, Proto: "RTP/AVP", Formats: []uint8{0}, Conn: ip("192.0.2.1"), Direction: "sendrecv"}}}}},
		{"status without reason", []byte("SIP/2.0 200\r\nCall-ID: x\r\n\r\n"), &Message{StatusCode: 200, CallID: "x"}},
	}
}

func TestParse(t *testing.T) {
	for _, tc := range parseCases() {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.in)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Parse:\n got %+v\nwant %+v", dump(got), dump(tc.want))
			}
		})
	}
}

// dump renders a message with its SDP for failure output.
func dump(m *Message) string {
	if m == nil {
		return "<nil>"
	}
	s := fmt.Sprintf("%+v", *m)
	if m.SDP != nil {
		s += fmt.Sprintf("\n  SDP %+v", *m.SDP)
	}
	return s
}

// rtpPacket is a PCMU RTP packet as found on the wire.
var rtpPacket = append([]byte{0x80, 0x00, 0x12, 0x34, 0x00, 0x00, 0x10, 0x00, 0xca, 0x11, 0x00, 0x00},
	[]byte(strings.Repeat("\xff\x7f", 80))...)

func notSIPCases() map[string][]byte {
	return map[string][]byte{
		"empty":              nil,
		"rtp":                rtpPacket,
		"rtcp":               {0x80, 0xc8, 0x00, 0x06, 0xca, 0x11, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0},
		"stun":               {0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12},
		"keep-alive":         []byte("\r\n\r\n"),
		"http":               []byte("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"),
		"http response":      []byte("HTTP/1.1 200 OK\r\n\r\n"),
		"sip version only":   []byte("SIP/2.0"),
		"wrong sip version":  []byte("INVITE sip:bob@example.com SIP/3.0\r\n\r\n"),
		"status 99":          []byte("SIP/2.0 099 Low\r\n\r\n"),
		"status 700":         []byte("SIP/2.0 700 High\r\n\r\n"),
		"status not digits":  []byte("SIP/2.0 2x0 OK\r\n\r\n"),
		"status four digits": []byte("SIP/2.0 2000 OK\r\n\r\n"),
		"no line end":        []byte("INVITE sip:bob@example.com SIP/2.0"),
		"uri without scheme": []byte("INVITE bob SIP/2.0\r\n\r\n"),
		"uri with space":     []byte("INVITE sip:a b SIP/2.0\r\n\r\n"),
		"method too long":    []byte(strings.Repeat("A", 40) + " sip:x SIP/2.0\r\n\r\n"),
		"method bad char":    []byte("INV(TE sip:x SIP/2.0\r\n\r\n"),
		"leading space":      []byte(" INVITE sip:x SIP/2.0\r\n\r\n"),
		"long first line":    []byte("INVITE sip:" + strings.Repeat("x", maxStartLineLen) + " SIP/2.0\r\n\r\n"),
		"text":               []byte("Lorem ipsum dolor sit amet, consectetur adipiscing elit\n"),
		"binary":             {0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11},
	}
}

func TestParseNotSIP(t *testing.T) {
	for name, in := range notSIPCases() {
		t.Run(name, func(t *testing.T) {
			m, err := Parse(in)
			if !errors.Is(err, ErrNotSIP) || m != nil {
				t.Fatalf("Parse = %v, %v; want nil, ErrNotSIP", m, err)
			}
			if n := testing.AllocsPerRun(20, func() { _, _ = Parse(in) }); n != 0 {
				t.Errorf("rejecting allocates %v times", n)
			}
		})
	}
}

func TestParseLimits(t *testing.T) {
	var sdp strings.Builder
	sdp.WriteString("v=0\r\nc=IN IP4 192.0.2.1\r\n")
	for k := 0; k < MaxMedia+10; k++ {
		fmt.Fprintf(&sdp, "m=audio %d RTP/AVP 0 8 9 18 101\r\n", 2000+2*k)
		sdp.WriteString("a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendonly\r\n")
	}
	m, err := Parse(msg(true, sdp.String(), "SIP/2.0 200 OK", "Content-Type: application/sdp"))
	if err != nil {
		t.Fatal(err)
	}
	if got := len(m.SDP.Media); got != MaxMedia {
		t.Fatalf("kept %d media, want %d", got, MaxMedia)
	}
	formats, maps := 0, 0
	for _, md := range m.SDP.Media {
		formats += len(md.Formats)
		maps += len(md.RTPMap)
		if md.Direction != SendOnly {
			t.Fatalf("direction %q", md.Direction)
		}
	}
	if formats != MaxFormats {
		t.Errorf("kept %d formats, want %d", formats, MaxFormats)
	}
	if maps > MaxRTPMaps {
		t.Errorf("kept %d rtpmaps, want at most %d", maps, MaxRTPMaps)
	}
	if last := m.SDP.Media[MaxMedia-1]; last.Port != uint16(2000+2*(MaxMedia-1)) {
		t.Errorf("last media port %d: attributes of dropped sections leaked", last.Port)
	}
}

// hostileInputs are 64 KiB messages built to make a careless parser
// allocate or loop a lot.
func hostileInputs() map[string][]byte {
	const size = 64 << 10
	fill := func(head, unit string) []byte {
		b := []byte(head)
		for len(b)+len(unit) <= size {
			b = append(b, unit...)
		}
		return b
	}
	sdpHead := "SIP/2.0 200 OK\r\nContent-Type: application/sdp\r\n\r\nv=0\r\n"
	return map[string][]byte{
		"media lines":    fill(sdpHead, "m=audio 1 RTP/AVP 0\r\n"),
		"formats":        fill(sdpHead+"m=audio 1 RTP/AVP", " 1"),
		"rtpmaps":        fill(sdpHead+"m=audio 1 RTP/AVP 0\r\n", "a=rtpmap:1 a/1\r\n"),
		"connections":    fill(sdpHead, "c=IN IP6 ::1\r\n"),
		"origins":        fill(sdpHead, "o=x\r\ns=y\r\n"),
		"folded from":    fill("SIP/2.0 200 OK\r\nFrom: <sip:a@b>", "\r\n ;x=y"),
		"folded other":   fill("SIP/2.0 200 OK\r\nX-Long: a", "\r\n b"),
		"many headers":   fill("SIP/2.0 200 OK\r\n", "From: \"a\\\"b\" <sip:%41@h>;tag=1\r\nCall-ID: c\r\n"),
		"long call-id":   fill("SIP/2.0 200 OK\r\nCall-ID: ", "x"),
		"escaped quotes": fill("SIP/2.0 200 OK\r\nFrom: \"", "\\\""),
		"multipart":      fill("SIP/2.0 200 OK\r\nContent-Type: multipart/mixed;boundary=b\r\n\r\n", "--b\r\n\r\nv=0\r\n"),
		"empty lines":    fill("SIP/2.0 200 OK\r\nContent-Type: application/sdp\r\n\r\n", "\r\n"),
	}
}

// TestParseBoundedAllocation checks that hostile 64 KiB inputs cost memory
// proportional to the input, not more.
func TestParseBoundedAllocation(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation accounting")
	}
	for name, in := range hostileInputs() {
		t.Run(name, func(t *testing.T) {
			m, err := Parse(in)
			if err != nil {
				t.Fatal(err)
			}
			_ = m
			n := testing.AllocsPerRun(5, func() { _, _ = Parse(in) })
			if n > 1500 {
				t.Errorf("%d allocations for %d bytes", int(n), len(in))
			}
			bytes := allocBytes(func() { _, _ = Parse(in) })
			if bytes > 8*len(in) {
				t.Errorf("allocated %d bytes for a %d-byte input", bytes, len(in))
			}
		})
	}
}

// TestSDPSecurity: the attributes and profiles that say a media section's
// payloads are encrypted (SDES-SRTP, DTLS-SRTP, ZRTP) are reported, and
// no key material is kept.
func TestSDPSecurity(t *testing.T) {
	const key = "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz"
	sdp := crlf(`v=0
o=- 1 1 IN IP4 192.0.2.1
s=-
c=IN IP4 192.0.2.1
t=0 0
a=zrtp-hash:1.10 fe30efd02423cb054e50efd0248742ac7a52c8f91bc2df881ae642c371ba46df
m=audio 5004 RTP/SAVP 0
a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:` + key + `|2^20|1:32
m=audio 5006 UDP/TLS/RTP/SAVPF 8
a=fingerprint:sha-256 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB:4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF
m=audio 5008 RTP/AVP 0
m=audio 5010 rtp/savpf 0
`)
	m, err := Parse(msg(true, sdp, "SIP/2.0 200 OK", "Content-Type: application/sdp"))
	if err != nil {
		t.Fatal(err)
	}
	md := m.SDP.Media
	if len(md) != 4 {
		t.Fatalf("%d media", len(md))
	}
	type sec struct{ profile, dtls, crypto, fp, zrtp bool }
	want := []sec{
		{profile: true, crypto: true, zrtp: true},
		{profile: true, dtls: true, fp: true, zrtp: true},
		{zrtp: true},
		{profile: true, zrtp: true},
	}
	for i, w := range want {
		got := sec{md[i].SecureProfile(), md[i].DTLS(), md[i].Crypto, md[i].Fingerprint, md[i].ZRTPHash}
		if got != w {
			t.Errorf("media %d (%s): %+v, want %+v", i, md[i].Proto, got, w)
		}
	}
	if strings.Contains(fmt.Sprintf("%+v", *m.SDP), key) {
		t.Error("the SDES key is kept in the parsed message")
	}
}
