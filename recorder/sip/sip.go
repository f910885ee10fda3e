package sip

import (
	"bytes"
	"errors"
	"net/netip"
)

// ErrNotSIP is returned by Parse for a payload that does not start like a SIP
// request or response.
var ErrNotSIP = errors.New("sip: not a SIP message")

// Limits that keep the parser cheap on hostile or non-SIP input.
const (
	maxMethodLen    = 32   // longest request method token accepted
	maxStartLineLen = 4096 // the start line must end within this many bytes
	maxParts        = 16   // multipart body parts examined
)

// Message is the part of a SIP request or response the recorder uses. All
// strings are copies: a Message does not refer to the bytes given to Parse.
type Message struct {
	// Request is true for a request (Method, RequestURI set) and false for a
	// response (StatusCode, Reason set).
	Request    bool
	Method     string
	RequestURI string
	StatusCode int
	Reason     string

	CallID string
	From   Address
	To     Address
	// CSeq and CSeqMethod are the CSeq header's sequence number and method;
	// in a response CSeqMethod names the request it answers.
	CSeq       uint32
	CSeqMethod string
	// UserAgent is the User-Agent header, or the Server header when a
	// message (typically a response) has no User-Agent.
	UserAgent string

	// SDP is the session description carried in the body (application/sdp,
	// also as a part of a multipart body), or nil when there is none.
	SDP *SDP
}

// Address is a From or To header value.
type Address struct {
	// Display is the display name, unquoted and unescaped.
	Display string
	// URI is the address URI as written, without angle brackets.
	URI string
	// User is the percent-decoded user part of a sip: or sips: URI, without
	// password and parameters, or the number of a tel: URI (e.g. a phone
	// number); empty for other schemes.
	User string
	// Host is the host of a sip: or sips: URI, without port and without the
	// brackets of an IPv6 reference; empty for other schemes.
	Host string
	// Tag is the value of the tag parameter.
	Tag string
}

// Parse parses one SIP message from the start of b. b may hold a datagram's
// whole payload or a TCP segment; for a segment holding several messages only
// the first is parsed. A body cut short (a capture's snap length) is parsed
// as far as it goes.
//
// Parse returns ErrNotSIP, without allocating, when b does not start with a
// SIP request line or status line (leading empty lines, such as keep-alives,
// are skipped). Otherwise it returns the message; header lines it cannot make
// sense of are skipped, so fields may be empty. Parse never keeps b.
func Parse(b []byte) (*Message, error) {
	// Most payloads offered are RTP or other binary: one byte tells.
	if len(b) == 0 || (!isLetter(b[0]) && b[0] != '\r' && b[0] != '\n') {
		return nil, ErrNotSIP
	}
	i := 0
	for i < len(b) && (b[i] == '\r' || b[i] == '\n') {
		i++
	}
	b = b[i:]
	sl, ok := startLine(b)
	if !ok {
		return nil, ErrNotSIP
	}
	m := &Message{Request: sl.request}
	if sl.request {
		m.Method = internMethod(sl.method)
		m.RequestURI = string(sl.uri)
	} else {
		m.StatusCode = sl.code
		m.Reason = internReason(sl.reason)
	}
	p := headerParser{m: m, contentLength: -1}
	bodyStart := p.headers(b, sl.next)
	if m.UserAgent == "" {
		m.UserAgent = p.server
	}
	if bodyStart < 0 {
		return m, nil
	}
	body := b[bodyStart:]
	cut := false
	if p.contentLength >= 0 {
		if p.contentLength <= len(body) {
			body = body[:p.contentLength]
		} else {
			cut = true
		}
	}
	m.SDP = bodySDP(p.contentType, body, cut)
	return m, nil
}

// startLineInfo is what startLine found.
type startLineInfo struct {
	request bool
	method  []byte
	uri     []byte
	code    int
	reason  []byte
	next    int // index of the first byte after the start line
}

// startLine recognises a request line or status line at the start of b
// without allocating.
func startLine(b []byte) (startLineInfo, bool) {
	var sl startLineInfo
	if len(b) < 12 { // "SIP/2.0 200\n" and "ACK s:x SIP/2.0" are longer
		return sl, false
	}
	if hasPrefixFold(b, "SIP/2.0 ") {
		line, next, ok := firstLine(b)
		if !ok {
			return sl, false
		}
		rest := line[len("SIP/2.0 "):]
		if len(rest) < 3 || !isDigit(rest[0]) || !isDigit(rest[1]) || !isDigit(rest[2]) {
			return sl, false
		}
		code := int(rest[0]-'0')*100 + int(rest[1]-'0')*10 + int(rest[2]-'0')
		if code < 100 || code > 699 {
			return sl, false
		}
		rest = rest[3:]
		if len(rest) > 0 && rest[0] != ' ' && rest[0] != '\t' {
			return sl, false
		}
		sl.code = code
		sl.reason = trimSpace(rest)
		sl.next = next
		return sl, true
	}
	if !isLetter(b[0]) {
		return sl, false
	}
	n := 1
	for n < len(b) && n <= maxMethodLen && isTokenChar(b[n]) {
		n++
	}
	if n > maxMethodLen || n >= len(b) || b[n] != ' ' {
		return sl, false
	}
	line, next, ok := firstLine(b)
	if !ok {
		return sl, false
	}
	const version = " SIP/2.0"
	if len(line) < n+len(version) || !equalFold(line[len(line)-len(version):], version) {
		return sl, false
	}
	uri := trimSpace(line[n : len(line)-len(version)])
	if len(uri) == 0 || bytes.IndexByte(uri, ':') < 0 || bytes.IndexByte(uri, ' ') >= 0 {
		return sl, false
	}
	sl.request = true
	sl.method = b[:n]
	sl.uri = uri
	sl.next = next
	return sl, true
}

// firstLine returns the first line of b without its CRLF or LF and the index
// after it. It fails when no line end lies within maxStartLineLen bytes.
func firstLine(b []byte) (line []byte, next int, ok bool) {
	w := b
	if len(w) > maxStartLineLen {
		w = w[:maxStartLineLen]
	}
	nl := bytes.IndexByte(w, '\n')
	if nl < 0 {
		return nil, 0, false
	}
	line = b[:nl]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	return line, nl + 1, true
}

// nextLine returns the line starting at b[i:] without its line end, the index
// after it and whether the line was terminated by LF (false when it runs to
// the end of b).
func nextLine(b []byte, i int) (line []byte, next int, terminated bool) {
	nl := bytes.IndexByte(b[i:], '\n')
	if nl < 0 {
		return b[i:], len(b), false
	}
	line = b[i : i+nl]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	return line, i + nl + 1, true
}

// hkind identifies the headers the parser keeps.
type hkind uint8

const (
	hOther hkind = iota
	hCallID
	hFrom
	hTo
	hCSeq
	hUserAgent
	hServer
	hContentType
	hContentLength
)

// headerKind classifies a header name, long or compact form, ignoring case.
func headerKind(name []byte) hkind {
	if len(name) == 1 {
		switch name[0] | 0x20 {
		case 'i':
			return hCallID
		case 'f':
			return hFrom
		case 't':
			return hTo
		case 'c':
			return hContentType
		case 'l':
			return hContentLength
		}
		return hOther // m (Contact), v (Via) and the rest are not kept
	}
	switch {
	case equalFold(name, "call-id"):
		return hCallID
	case equalFold(name, "from"):
		return hFrom
	case equalFold(name, "to"):
		return hTo
	case equalFold(name, "cseq"):
		return hCSeq
	case equalFold(name, "user-agent"):
		return hUserAgent
	case equalFold(name, "server"):
		return hServer
	case equalFold(name, "content-type"):
		return hContentType
	case equalFold(name, "content-length"):
		return hContentLength
	}
	return hOther
}

// headerParser walks the header section and fills in a Message.
type headerParser struct {
	m             *Message
	server        string
	contentType   []byte
	contentLength int // -1 when absent or invalid
	haveFrom      bool
	haveTo        bool
	haveCSeq      bool
	haveCL        bool
}

// headers parses the header lines of b from index i. It returns the index
// of the body (after the empty line ending the headers), or -1 when the
// headers are not terminated (a cut message). An unterminated last line is
// incomplete and ignored.
func (p *headerParser) headers(b []byte, i int) int {
	var (
		kind   hkind
		val    []byte
		folded []byte // joined value of a folded kept header
		active bool   // a header is pending
	)
	for i < len(b) {
		line, next, terminated := nextLine(b, i)
		if !terminated {
			// Cut in the middle of a line: drop the line. The pending header
			// is complete when the cut line is not its continuation.
			if active && len(line) > 0 && line[0] != ' ' && line[0] != '\t' {
				p.apply(kind, val)
			}
			break
		}
		i = next
		if len(line) == 0 {
			if active {
				p.apply(kind, val)
			}
			return i
		}
		if line[0] == ' ' || line[0] == '\t' {
			// Continuation of the previous header: the fold is one space.
			if active && kind != hOther {
				cont := trimSpace(line)
				if len(cont) > 0 {
					if folded == nil {
						folded = make([]byte, 0, len(val)+1+len(cont))
						folded = append(folded, val...)
					}
					if len(folded) > 0 {
						folded = append(folded, ' ')
					}
					folded = append(folded, cont...)
					val = folded
				}
			}
			continue
		}
		if active {
			p.apply(kind, val)
		}
		active = false
		folded = nil
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			continue // not a header line
		}
		name := trimSpace(line[:colon])
		if len(name) == 0 {
			continue
		}
		kind = headerKind(name)
		val = trimSpace(line[colon+1:])
		active = true
	}
	return -1
}

// apply stores one complete header value. The first occurrence of a header
// wins.
func (p *headerParser) apply(kind hkind, val []byte) {
	m := p.m
	switch kind {
	case hCallID:
		if m.CallID == "" {
			m.CallID = string(val)
		}
	case hFrom:
		if !p.haveFrom {
			p.haveFrom = true
			m.From = parseAddress(val)
		}
	case hTo:
		if !p.haveTo {
			p.haveTo = true
			m.To = parseAddress(val)
		}
	case hCSeq:
		if !p.haveCSeq {
			p.haveCSeq = true
			num, method := splitWord(val)
			if n, ok := parseUint(num, 1<<32-1); ok {
				m.CSeq = uint32(n)
			}
			if method, _ = splitWord(method); len(method) > 0 {
				m.CSeqMethod = internMethod(method)
			}
		}
	case hUserAgent:
		if m.UserAgent == "" {
			m.UserAgent = string(val)
		}
	case hServer:
		if p.server == "" {
			p.server = string(val)
		}
	case hContentType:
		if p.contentType == nil {
			p.contentType = val
		}
	case hContentLength:
		if !p.haveCL {
			p.haveCL = true
			if n, ok := parseUint(val, 1<<30); ok {
				p.contentLength = int(n)
			}
		}
	}
}

// parseAddress parses a From/To value: a name-addr (optional display name,
// URI in angle brackets) or a bare addr-spec, followed by parameters.
func parseAddress(v []byte) Address {
	var a Address
	v = trimSpace(v)
	var uri, params []byte
	if len(v) > 0 && v[0] == '"' {
		disp, n := unquote(v)
		a.Display = disp
		v = trimSpace(v[n:])
	}
	if lt := bytes.IndexByte(v, '<'); lt >= 0 {
		if a.Display == "" {
			a.Display = string(trimSpace(v[:lt]))
		}
		rest := v[lt+1:]
		if gt := bytes.IndexByte(rest, '>'); gt >= 0 {
			uri, params = rest[:gt], rest[gt+1:]
		} else {
			uri = rest
		}
	} else {
		// addr-spec: the URI cannot hold ';' here, so parameters start at
		// the first one and belong to the header.
		uri = v
		if semi := bytes.IndexByte(v, ';'); semi >= 0 {
			uri, params = v[:semi], v[semi:]
		}
	}
	uri = trimSpace(uri)
	a.URI = string(uri)
	user, host := splitURI(uri)
	a.User = percentDecode(user)
	a.Host = string(host)
	a.Tag = string(param(params, "tag"))
	return a
}

// splitURI returns the user and host of a sip:, sips: or tel: URI.
func splitURI(u []byte) (user, host []byte) {
	colon := bytes.IndexByte(u, ':')
	if colon < 0 {
		return nil, nil
	}
	scheme, rest := u[:colon], u[colon+1:]
	switch {
	case equalFold(scheme, "tel"):
		return cutAny(rest, ";?"), nil
	case equalFold(scheme, "sip"), equalFold(scheme, "sips"):
	default:
		return nil, nil
	}
	if at := bytes.IndexByte(rest, '@'); at >= 0 {
		user = cutAny(rest[:at], ":;")
		rest = rest[at+1:]
	}
	if len(rest) > 0 && rest[0] == '[' {
		if rb := bytes.IndexByte(rest, ']'); rb > 0 {
			return user, rest[1:rb]
		}
		return user, nil
	}
	return user, cutAny(rest, ":;? \t")
}

// param returns the value of the named parameter in a ";name=value" list,
// or nil. Quoted values are returned without their quotes.
func param(params []byte, name string) []byte {
	for len(params) > 0 {
		// Split at the next ';' outside a quoted string.
		end, inQuote := len(params), false
		for k := 0; k < len(params); k++ {
			c := params[k]
			if c == '\\' && inQuote {
				k++
				continue
			}
			if c == '"' {
				inQuote = !inQuote
			} else if c == ';' && !inQuote && k > 0 {
				end = k
				break
			}
		}
		p := params[:end]
		params = params[end:]
		if len(p) > 0 && p[0] == ';' {
			p = p[1:]
		}
		k, v, _ := bytes.Cut(p, []byte{'='})
		if equalFold(trimSpace(k), name) {
			v = trimSpace(v)
			if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			return v
		}
	}
	return nil
}

// unquote decodes the quoted string at the start of b (b[0] == '"'),
// resolving backslash escapes. It returns the text and the index after the
// closing quote (len(b) when the quote is not closed).
func unquote(b []byte) (string, int) {
	esc := false
	end := -1
	for k := 1; k < len(b); k++ {
		if b[k] == '\\' {
			esc = true
			k++
			continue
		}
		if b[k] == '"' {
			end = k
			break
		}
	}
	inner, next := b[1:], len(b)
	if end >= 0 {
		inner, next = b[1:end], end+1
	}
	if !esc {
		return string(inner), next
	}
	out := make([]byte, 0, len(inner))
	for k := 0; k < len(inner); k++ {
		if inner[k] == '\\' && k+1 < len(inner) {
			k++
		}
		out = append(out, inner[k])
	}
	return string(out), next
}

// percentDecode decodes %XX escapes; malformed escapes are kept as written.
func percentDecode(b []byte) string {
	if bytes.IndexByte(b, '%') < 0 {
		return string(b)
	}
	out := make([]byte, 0, len(b))
	for k := 0; k < len(b); k++ {
		if b[k] == '%' && k+2 < len(b) {
			hi, ok1 := unhex(b[k+1])
			lo, ok2 := unhex(b[k+2])
			if ok1 && ok2 {
				out = append(out, hi<<4|lo)
				k += 2
				continue
			}
		}
		out = append(out, b[k])
	}
	return string(out)
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// bodySDP finds and parses the session description in a body of the given
// Content-Type. cut reports that the body is shorter than its
// Content-Length.
func bodySDP(contentType, body []byte, cut bool) *SDP {
	if len(body) == 0 {
		return nil
	}
	mt, params := splitMediaType(contentType)
	switch {
	case equalFold(mt, "application/sdp"):
		return parseSDP(body, cut)
	case len(mt) == 0:
		if bytes.HasPrefix(body, []byte("v=")) {
			return parseSDP(body, cut)
		}
	case hasPrefixFold(mt, "multipart/"):
		boundary := param(params, "boundary")
		if len(boundary) == 0 {
			return nil
		}
		return multipartSDP(body, boundary, cut)
	}
	return nil
}

// splitMediaType splits a Content-Type value into its media type and its
// parameters (starting at ';').
func splitMediaType(ct []byte) (mt, params []byte) {
	if semi := bytes.IndexByte(ct, ';'); semi >= 0 {
		return trimSpace(ct[:semi]), ct[semi:]
	}
	return trimSpace(ct), nil
}

// multipartSDP returns the session description in the first application/sdp
// part of a multipart body. Nested multiparts are not searched.
func multipartSDP(body, boundary []byte, cut bool) *SDP {
	delim := make([]byte, 0, 2+len(boundary))
	delim = append(append(delim, "--"...), boundary...)
	// The first delimiter starts the body or a line.
	at := -1
	if bytes.HasPrefix(body, delim) {
		at = 0
	} else if k := bytes.Index(body, append([]byte{'\n'}, delim...)); k >= 0 {
		at = k + 1
	}
	for parts := 0; at >= 0 && parts < maxParts; parts++ {
		rest := body[at+len(delim):]
		if bytes.HasPrefix(rest, []byte("--")) {
			return nil // closing delimiter
		}
		nl := bytes.IndexByte(rest, '\n')
		if nl < 0 {
			return nil
		}
		part := rest[nl+1:]
		// Without a next delimiter the part runs to the end of the body
		// and is cut when the body is.
		partCut := cut
		at = -1
		if k := bytes.Index(part, append([]byte{'\n'}, delim...)); k >= 0 {
			at = len(body) - len(part) + k + 1
			part = part[:k]
			if len(part) > 0 && part[len(part)-1] == '\r' {
				part = part[:len(part)-1]
			}
			partCut = false
		}
		ct, content, ok := partHeaders(part)
		if !ok {
			continue
		}
		mt, _ := splitMediaType(ct)
		if equalFold(mt, "application/sdp") || (len(mt) == 0 && bytes.HasPrefix(content, []byte("v="))) {
			return parseSDP(content, partCut)
		}
	}
	return nil
}

// partHeaders returns the Content-Type and the content of one body part.
func partHeaders(part []byte) (ct, content []byte, ok bool) {
	i := 0
	for i < len(part) {
		line, next, terminated := nextLine(part, i)
		if !terminated {
			return nil, nil, false
		}
		i = next
		if len(line) == 0 {
			return ct, part[i:], true
		}
		if colon := bytes.IndexByte(line, ':'); colon > 0 && ct == nil {
			if k := headerKind(trimSpace(line[:colon])); k == hContentType {
				ct = trimSpace(line[colon+1:])
			}
		}
	}
	return nil, nil, false
}

// Byte helpers. None of them allocates.

func isDigit(c byte) bool  { return '0' <= c && c <= '9' }
func isLetter(c byte) bool { return ('a' <= c|0x20 && c|0x20 <= 'z') }

// isTokenChar reports whether c may appear in an RFC 3261 token.
func isTokenChar(c byte) bool {
	if isLetter(c) || isDigit(c) {
		return true
	}
	switch c {
	case '-', '.', '!', '%', '*', '_', '+', '`', '\'', '~':
		return true
	}
	return false
}

// equalFold reports whether b equals the ASCII string s, ignoring case.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for k := 0; k < len(s); k++ {
		if lower(b[k]) != lower(s[k]) {
			return false
		}
	}
	return true
}

func hasPrefixFold(b []byte, s string) bool {
	return len(b) >= len(s) && equalFold(b[:len(s)], s)
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\r') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// splitWord returns the first whitespace-separated word of b and the rest.
func splitWord(b []byte) (word, rest []byte) {
	b = trimSpace(b)
	for k := 0; k < len(b); k++ {
		if b[k] == ' ' || b[k] == '\t' {
			return b[:k], trimSpace(b[k:])
		}
	}
	return b, nil
}

// cutAny returns b up to the first byte that is in set.
func cutAny(b []byte, set string) []byte {
	for k := 0; k < len(b); k++ {
		for j := 0; j < len(set); j++ {
			if b[k] == set[j] {
				return b[:k]
			}
		}
	}
	return b
}

// parseUint parses a decimal number no larger than limit.
func parseUint(b []byte, limit uint64) (uint64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
		if n > limit {
			return 0, false
		}
	}
	return n, true
}

// internMethod returns a shared string for the common methods, avoiding an
// allocation per message.
func internMethod(b []byte) string {
	switch string(b) {
	case "INVITE":
		return "INVITE"
	case "ACK":
		return "ACK"
	case "BYE":
		return "BYE"
	case "CANCEL":
		return "CANCEL"
	case "OPTIONS":
		return "OPTIONS"
	case "REGISTER":
		return "REGISTER"
	case "PRACK":
		return "PRACK"
	case "UPDATE":
		return "UPDATE"
	case "INFO":
		return "INFO"
	case "NOTIFY":
		return "NOTIFY"
	case "SUBSCRIBE":
		return "SUBSCRIBE"
	case "REFER":
		return "REFER"
	case "MESSAGE":
		return "MESSAGE"
	case "PUBLISH":
		return "PUBLISH"
	}
	return string(b)
}

func internReason(b []byte) string {
	switch string(b) {
	case "OK":
		return "OK"
	case "Trying":
		return "Trying"
	case "Ringing":
		return "Ringing"
	case "Session Progress":
		return "Session Progress"
	case "Unauthorized":
		return "Unauthorized"
	case "Proxy Authentication Required":
		return "Proxy Authentication Required"
	case "Request Terminated":
		return "Request Terminated"
	}
	return string(b)
}

// parseConnAddr parses the address of a c= line value ("IN IP4 192.0.2.1",
// "IN IP6 2001:db8::1", multicast "/ttl" suffixes dropped).
func parseConnAddr(v []byte) netip.Addr {
	nettype, rest := splitWord(v)
	addrtype, rest := splitWord(rest)
	addr, _ := splitWord(rest)
	if !equalFold(nettype, "IN") || !(equalFold(addrtype, "IP4") || equalFold(addrtype, "IP6")) {
		return netip.Addr{}
	}
	if slash := bytes.IndexByte(addr, '/'); slash >= 0 {
		addr = addr[:slash]
	}
	if len(addr) == 0 || len(addr) > 64 {
		return netip.Addr{}
	}
	a, err := netip.ParseAddr(string(addr))
	if err != nil || a.Zone() != "" {
		return netip.Addr{}
	}
	return a
}
