// Package loadgen drives synthetic devices that stream calls to an
// appliance the way innovaphone phones do, one long chunked PUT of a growing
// PCAP per call; `callvault loadgen` is its command line.
//
// Pacing does not use a goroutine and ticker per call: a few scheduler
// goroutines (one per CPU by default) each own many calls and, on every
// 20 ms tick, append each call's two RTP packets to the call's request body.
// The body is an unbounded in-memory pipe, so a write never blocks the
// scheduler; data the transport has not taken by the next ticks counts as
// backpressure, and a call whose daemon stops reading for maxPendingTime is
// aborted. net/http still needs a goroutine per request (plus its own two
// per connection); those only wait on the network.
//
// Files by concern: config.go (settings and their checks), call.go and
// pattern.go (the frames of a call and their speech-like G.711 payload),
// pipe.go (the request body), sched.go (pacing), run.go (the HTTP uploads),
// verify.go (reading the recordings back), proc.go (sampling the daemon's
// CPU and memory), report.go (the summary).
package loadgen
