// Package recinfo holds the recording-info document: what the recorder
// found in one capture (the RTP streams with their codec, loss and
// encryption, the calls they form with their SIP parties and DTMF digits),
// where the upload's file name came from, and the placement map's index.
//
// The recorder builds an Info while it ingests a capture and stores it as
// JSON, encrypted with the recording, in the archive; the web pages, the
// JSON API, the zip and PDF exports and `callvault decode` read it back
// through these same types. Stored recordings keep their documents for
// their whole life, so the JSON form is part of the product: field names
// and tags are never changed or reused, fields are only added, and a
// document written by any earlier version decodes (the tests hold a golden
// document as the recorder writes it).
//
// Parse is the strict reader the audio path uses (it refuses documents of
// an unknown version); pages and API views decode leniently and show what
// parses. Result.Layout turns a call of the document into the codec's
// rendering layout.
//
// The package depends on codec only (the placement map's Span and the
// rendering Layout); recorder, archive and the handler packages depend on
// it, never the other way.
package recinfo
