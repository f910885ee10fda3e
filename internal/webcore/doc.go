// Package webcore holds what the web pages (ui) and the JSON API (api)
// present alike, so that neither imports the other and each rule has one
// owner: the Media interface the recorder implements; a recording in the
// words of people (direction, parties, times, states) and the call-info
// document built from them; text search over a recording's summary;
// lifecycle refusals (a status, a message for API clients, one for
// people, one for the audit log) over archive's rules, with deletion
// dates and the effect of a settings change; the audit log as CSV; and
// the checked serving of stored audio (Probe before the status,
// CheckedReader to abort a body that fails part way), which the Twilio
// Flex handlers (flex) use as well.
package webcore
