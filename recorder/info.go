package recorder

import (
	"encoding/json"
	"fmt"

	"github.com/callvault/callvault/codec"
)

// InfoVersion is the version of the Info document written now.
const InfoVersion = 1

// Info is the recorder's description of one recording, stored (encrypted)
// with it by the archive: where the name came from, what the capture held,
// and the placement map's index. It is all a reader needs to turn the
// original and the map back into audio.
type Info struct {
	Version   int          `json:"version"`
	Name      FileName     `json:"name"`
	Result    *Result      `json:"result"`
	Spans     []codec.Span `json:"spans"`
	Entries   int          `json:"entries"`
	Truncated bool         `json:"truncated,omitempty"`
	Damage    string       `json:"damage,omitempty"`
}

// ParseInfo decodes a stored Info document.
func ParseInfo(b []byte) (*Info, error) {
	var in Info
	if err := json.Unmarshal(b, &in); err != nil {
		return nil, fmt.Errorf("recorder: bad recording info: %w", err)
	}
	if in.Version < 1 || in.Version > InfoVersion {
		return nil, fmt.Errorf("recorder: recording info version %d not supported", in.Version)
	}
	if in.Result == nil {
		in.Result = &Result{}
	}
	return &in, nil
}
