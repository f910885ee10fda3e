package recinfo

import "testing"

// TestStoredG722Decodable: a document stored before G.722 was decoded
// says its G.722 streams are unsupported; Parse and ParseLenient report
// them supported (they render now), and leave encrypted streams and
// codecs still not decoded as they were.
func TestStoredG722Decodable(t *testing.T) {
	doc := []byte(`{"version":1,"result":{"streams":[
		{"index":0,"codec":"G722","supported":false},
		{"index":1,"codec":"G722","supported":false,"encrypted":true},
		{"index":2,"codec":"GSM","supported":false},
		{"index":3,"codec":"telephone-event","supported":false},
		{"index":4,"codec":"PCMU","supported":true}]}}`)
	want := []bool{true, false, false, false, true}
	in, err := Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string]*Result{"Parse": in.Result, "ParseLenient": ParseLenient(doc).Result} {
		for i, s := range r.Streams {
			if s.Supported != want[i] {
				t.Errorf("%s: stream %d (%s) supported %v, want %v", name, i, s.Codec, s.Supported, want[i])
			}
		}
	}
}
