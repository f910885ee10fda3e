package sip

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/callvault/callvault/internal/testcorpus"
)

// TestCorpus finds SIP start lines in the raw bytes of every capture in the
// shared corpus and parses from each: nothing may fail or panic, and the
// SIPp call in generated/sip_pcmu must come out right. The captures are not
// decoded (this package has no capture reader): a message is parsed from its
// first byte to the end of the file, its Content-Length bounding the body.
func TestCorpus(t *testing.T) {
	corpus := testcorpus.Dir(t)
	var files []string
	err := filepath.WalkDir(corpus, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && (strings.HasSuffix(path, ".pcap") || strings.HasSuffix(path, ".pcapng")) {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	starts := [][]byte{[]byte("SIP/2.0 "), []byte("INVITE "), []byte("ACK "), []byte("BYE "),
		[]byte("CANCEL "), []byte("REGISTER "), []byte("OPTIONS ")}
	total := 0
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var msgs []*Message
		for off := 0; off < len(data); off++ {
			if c := data[off]; c != 'S' && c != 'I' && c != 'A' && c != 'B' && c != 'C' && c != 'R' && c != 'O' {
				continue
			}
			rest := data[off:]
			found := false
			for _, s := range starts {
				if bytes.HasPrefix(rest, s) {
					found = true
					break
				}
			}
			if !found {
				continue
			}
			m, err := Parse(rest)
			if err != nil {
				continue // e.g. "SIP/2.0 " inside a Via header
			}
			msgs = append(msgs, m)
		}
		total += len(msgs)
		rel, _ := filepath.Rel(corpus, path)
		t.Logf("%s: %d SIP messages", rel, len(msgs))
		switch filepath.ToSlash(rel) {
		case "generated/sip_pcmu/capture.pcap":
			checkSIPpCall(t, msgs)
		case "real/ndpi_FAX-Call-t38-CA-TDM-SIP-FB-1.pcap":
			checkFaxCall(t, msgs)
		}
	}
	if total == 0 {
		t.Error("no SIP message found in the corpus")
	}
}

func checkSIPpCall(t *testing.T, msgs []*Message) {
	t.Helper()
	var offer, answer *Message
	for _, m := range msgs {
		if m.CSeqMethod != "INVITE" || m.SDP == nil {
			continue
		}
		if m.Request {
			offer = m
		} else if m.StatusCode == 200 {
			answer = m
		}
	}
	if offer == nil || answer == nil {
		t.Fatalf("sip_pcmu: offer %v, answer %v", offer != nil, answer != nil)
	}
	if offer.CallID == "" || offer.CallID != answer.CallID || offer.From.Tag == "" || answer.To.Tag == "" {
		t.Errorf("sip_pcmu: dialog ids: offer %+v answer %+v", offer, answer)
	}
	for _, m := range []*Message{offer, answer} {
		if len(m.SDP.Media) != 1 {
			t.Fatalf("sip_pcmu: media %+v", m.SDP.Media)
		}
		md := m.SDP.Media[0]
		if md.Port != 6000 || !md.Conn.IsValid() || md.RTPMap[0].Encoding != "PCMU" ||
			md.RTPMap[101].Encoding != "telephone-event" || md.RTPMap[101].ClockRate != 8000 {
			t.Errorf("sip_pcmu: media %+v", md)
		}
	}
}

func checkFaxCall(t *testing.T, msgs []*Message) {
	t.Helper()
	for _, m := range msgs {
		if m.Request && m.Method == "INVITE" && m.SDP != nil && len(m.SDP.Media) > 0 {
			md := m.SDP.Media[0]
			if m.To.User != "061963177" || md.Port != 16756 || md.Conn.String() != "10.23.1.52" ||
				md.RTPMap[102].Encoding != "telephone-event" {
				t.Errorf("fax call INVITE: %+v %+v", m.To, md)
			}
			return
		}
	}
	t.Error("fax call: no INVITE with SDP")
}
