package recinfo

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// TestRoundTrip: a document with every field set encodes to the stored form
// the recorder has always written, and decodes back to the same value.
func TestRoundTrip(t *testing.T) {
	in := full()
	allSet(t, "Info", reflect.ValueOf(in).Elem())
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("testdata/full.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, want) {
		t.Errorf("JSON changed:\n got %s\nwant %s", b, want)
	}
	got, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, in) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, in)
	}
	if got := ParseLenient(b); !reflect.DeepEqual(got, in) {
		t.Errorf("lenient round trip:\n got %+v\nwant %+v", got, in)
	}
}

// allSet fails for every field under v that is zero, so full() names every
// field of the document, including ones added later.
func allSet(t *testing.T, path string, v reflect.Value) {
	t.Helper()
	if v.IsZero() {
		t.Errorf("full(): %s is not set", path)
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		allSet(t, path, v.Elem())
	case reflect.Slice:
		if k := v.Type().Elem().Kind(); k != reflect.Struct && k != reflect.Pointer {
			return // a list of numbers or strings: 0 and "" are values
		}
		for i := range v.Len() {
			allSet(t, path+"[]", v.Index(i))
		}
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			return
		}
		for i := range v.NumField() {
			allSet(t, path+"."+v.Type().Field(i).Name, v.Field(i))
		}
	}
}

// TestGolden: documents the recorder stored decode, and encode to the same
// bytes again.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.json")
	if err != nil || len(files) < 5 {
		t.Fatalf("golden documents: %v %v", files, err)
	}
	docs := map[string]*Info{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		in, err := Parse(b)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out, b) {
			t.Errorf("%s: re-encoded differs:\n got %s\nwant %s", f, out, b)
		}
		if l := ParseLenient(b); !reflect.DeepEqual(l, in) {
			t.Errorf("%s: lenient decode differs", f)
		}
		docs[filepath.Base(f)] = in
	}

	sip := docs["sip_pcmu.json"]
	wantName := FileName{GUID: "f9e5956e47d460010630009033302ab1", MAC: "009033302ab1", Serial: "11", User: "Åsa"}
	if sip.Name != wantName || len(sip.Result.Calls) != 1 || len(sip.Result.Streams) != 2 || sip.Entries != 1900 {
		t.Fatalf("sip_pcmu: %+v", sip)
	}
	c := sip.Result.Calls[0]
	if c.CallID != "1-1453@127.2.208.35" || c.From != (Party{Name: "mallory", Number: "mallory"}) || c.To != (Party{Number: "566"}) ||
		c.DurationMs != 19003 || !slicesEqual(c.Streams, []int{0, 1}) {
		t.Errorf("sip_pcmu call: %+v", c)
	}
	if s := sip.Result.Streams[1]; s.SSRC != 0xCA110000 || s.Codec != "PCMU" || !s.Supported || s.Channel != 1 || s.JitterMs != 1.04 ||
		!s.LastTime.Equal(time.Date(2026, 11, 21, 7, 20, 40, 599340000, time.UTC)) {
		t.Errorf("sip_pcmu stream 1: %+v", s)
	}

	sinora := docs["projectrtp_sinora.json"]
	digits := 0
	for _, c := range sinora.Result.Calls {
		for _, d := range c.DTMF {
			if d.Digit != "2" {
				t.Errorf("sinora digit %+v", d)
			}
			digits++
		}
	}
	if len(sinora.Result.Calls) != 2 || digits != 5 || sinora.Result.RTCPPackets != 5 {
		t.Errorf("sinora: %d calls, %d digits, %d RTCP", len(sinora.Result.Calls), digits, sinora.Result.RTCPPackets)
	}
	if tr := docs["truncated_mid_packet.json"]; !tr.Truncated {
		t.Errorf("truncated_mid_packet: not truncated")
	}
	if fax := docs["ndpi_fax_t38.json"]; len(fax.Result.Warnings) == 0 || fax.Result.SIPMessages == 0 {
		t.Errorf("ndpi_fax_t38: %+v", fax.Result)
	}
}

func slicesEqual(a, b []int) bool { return reflect.DeepEqual(a, b) }

func TestParseRefuses(t *testing.T) {
	for _, b := range []string{``, `{`, `[]`, `{"version":0}`, `{"result":{}}`, `{"version":2}`, `{"version":"1"}`} {
		if in, err := Parse([]byte(b)); err == nil {
			t.Errorf("Parse(%q) = %+v, want an error", b, in)
		}
	}
	in, err := Parse([]byte(`{"version":1}`))
	if err != nil || in.Result == nil {
		t.Errorf("Parse without result: %+v, %v", in, err)
	}
}

// TestParseLenient: pages show what parses of a document.
func TestParseLenient(t *testing.T) {
	for _, b := range []string{``, `not json`, `{"version":1,`, `null`} {
		if in := ParseLenient([]byte(b)); in == nil || in.Result == nil || len(in.Result.Calls) != 0 {
			t.Errorf("ParseLenient(%q) = %+v", b, in)
		}
	}
	// No version, a field of the wrong type: the rest still shows.
	in := ParseLenient([]byte(`{"result":{"streams":[{"ssrc":"x","codec":"PCMA"}],"calls":[{"from":{"number":"201"},"streams":[0]}]},"damage":"cut"}`))
	if len(in.Result.Calls) != 1 || in.Result.Calls[0].From.Number != "201" || in.Damage != "cut" {
		t.Errorf("lenient: %+v", in.Result)
	}
}

func TestPartyString(t *testing.T) {
	for _, c := range []struct {
		p    Party
		want string
	}{
		{Party{Name: "Åsa", Number: "201"}, "Åsa (201)"},
		{Party{Name: "201", Number: "201"}, "201"},
		{Party{Name: "Åsa"}, "Åsa"},
		{Party{Number: "201"}, "201"},
		{Party{}, ""},
	} {
		if got := c.p.String(); got != c.want {
			t.Errorf("%+v: %q, want %q", c.p, got, c.want)
		}
	}
}

// FuzzParse: no input crashes either reader, and what Parse accepts encodes
// and decodes to the same document again.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.json")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"version":1,"result":{"streams":[{"firstTime":"2026-01-01T00:00:00+02:00"}]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if l := ParseLenient(b); l == nil || l.Result == nil {
			t.Fatal("ParseLenient gave no result")
		}
		in, err := Parse(b)
		if err != nil {
			return
		}
		if in.Result == nil {
			t.Fatal("Parse gave no result")
		}
		once, err := json.Marshal(in)
		if err != nil {
			t.Fatalf("encode %+v: %v", in, err)
		}
		again, err := Parse(once)
		if err != nil {
			t.Fatalf("re-decode %s: %v", once, err)
		}
		twice, err := json.Marshal(again)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(once, twice) {
			t.Fatalf("not stable:\n%s\n%s", once, twice)
		}
	})
}
