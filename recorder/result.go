package recorder

import "github.com/callvault/callvault/recinfo"

// The recorder builds the recording-info document of package recinfo; these
// are its types under the names the recorder has always used.
type (
	// Result is what a Demux found in a capture: recinfo.Result.
	Result = recinfo.Result
	// Stream is one RTP stream: recinfo.Stream.
	Stream = recinfo.Stream
	// DTMF is one telephone-event digit: recinfo.DTMF.
	DTMF = recinfo.DTMF
	// Call is a set of streams that belong together: recinfo.Call.
	Call = recinfo.Call
	// Party is one end of a call as SIP named it: recinfo.Party.
	Party = recinfo.Party
)
