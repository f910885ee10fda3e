package capturetest

import (
	"fmt"
	"net/netip"
	"strings"
)

// Party is one end of a SIP dialog as the From and To headers name it.
type Party struct{ Display, User, Tag string }

// SIP is a SIP message over UDP.
type SIP struct {
	First    string // request line or status line
	Via      string // sent-by host:port
	Branch   string // the Via branch parameter
	Domain   string // of the From and To URIs
	From, To Party
	CallID   string
	CSeq     int
	Method   string // of the CSeq header
	Contact  string // user@host; no Contact header when empty
	Body     string // SDP; none when empty
}

// Bytes returns the message.
func (m SIP) Bytes() []byte {
	var b strings.Builder
	party := func(h string, p Party) {
		fmt.Fprintf(&b, "%s: \"%s\" <sip:%s@%s>", h, p.Display, p.User, m.Domain)
		if p.Tag != "" {
			b.WriteString(";tag=" + p.Tag)
		}
		b.WriteString("\r\n")
	}
	b.WriteString(m.First + "\r\n")
	fmt.Fprintf(&b, "Via: SIP/2.0/UDP %s;branch=%s\r\n", m.Via, m.Branch)
	party("From", m.From)
	party("To", m.To)
	fmt.Fprintf(&b, "Call-ID: %s\r\nCSeq: %d %s\r\n", m.CallID, m.CSeq, m.Method)
	if m.Contact != "" {
		fmt.Fprintf(&b, "Contact: <sip:%s>\r\n", m.Contact)
	}
	if m.Body != "" {
		b.WriteString("Content-Type: application/sdp\r\n")
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", len(m.Body), m.Body)
	return []byte(b.String())
}

// SDP announces audio at addr with payload type pt (0 PCMU, 8 PCMA) over
// proto (RTP/AVP, RTP/SAVP, …), with telephone-event 101 beside it when
// dtmf, and the given attribute lines.
func SDP(addr netip.AddrPort, proto string, pt uint8, dtmf bool, attrs ...string) string {
	ip := addr.Addr()
	enc := map[uint8]string{0: "PCMU", 8: "PCMA", 9: "G722"}[pt]
	s := fmt.Sprintf("v=0\r\no=- 1 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\nm=audio %d %s %d", ip, ip, addr.Port(), proto, pt)
	if dtmf {
		s += " 101"
	}
	s += fmt.Sprintf("\r\na=rtpmap:%d %s/8000\r\n", pt, enc)
	if dtmf {
		s += "a=rtpmap:101 telephone-event/8000\r\n"
	}
	for _, a := range attrs {
		s += a + "\r\n"
	}
	return s
}
